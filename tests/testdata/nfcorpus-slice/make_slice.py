#!/usr/bin/env python3
# Copyright (c) Muvera contributors. Licensed under the MIT License.
"""Cuts the NFCorpus test slice in this folder out of a BEIR NFCorpus copy (see SOURCE.md).

Usage: python3 make_slice.py SOURCE_DIR  (SOURCE_DIR holds corpus.jsonl.gz, queries.jsonl, qrels/test.tsv)

Deterministic: queries are taken in the order of the SHA-256 of their id, each kept when it has at most
MAX_JUDGED judged documents and the union of judged documents stays within MAX_JUDGED_UNION, until QUERIES are
kept; the slice then holds every judged document of those queries plus distractors, the other corpus documents in
the order of the SHA-256 of their id, up to DOCUMENTS. Output order: corpus order (documents), id order (queries).
"""
import csv
import gzip
import hashlib
import json
import os
import sys

QUERIES = 30
DOCUMENTS = 300
MAX_JUDGED = 12
MAX_JUDGED_UNION = 200


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main(source):
    here = os.path.dirname(os.path.abspath(__file__))
    judged = {}
    with open(os.path.join(source, "qrels", "test.tsv"), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            judged.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])

    chosen, union = [], set()
    for query in sorted(judged, key=sha):
        docs = judged[query]
        if len(docs) <= MAX_JUDGED and len(union | set(docs)) <= MAX_JUDGED_UNION:
            chosen.append(query)
            union |= set(docs)
            if len(chosen) == QUERIES:
                break
    assert len(chosen) == QUERIES, "not enough queries fit"

    corpus = []
    with gzip.open(os.path.join(source, "corpus.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            corpus.append(json.loads(line))
    ids = [doc["_id"] for doc in corpus]
    keep = set(union)
    for doc_id in sorted((i for i in ids if i not in union), key=sha):
        if len(keep) == DOCUMENTS:
            break
        keep.add(doc_id)

    with open(os.path.join(here, "corpus.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for doc in corpus:
            if doc["_id"] in keep:
                f.write(json.dumps({"_id": doc["_id"], "title": doc["title"], "text": doc["text"]}, ensure_ascii=False) + "\n")

    chosen_set = set(chosen)
    with open(os.path.join(source, "queries.jsonl"), encoding="utf-8") as f:
        queries = [json.loads(line) for line in f]
    with open(os.path.join(here, "queries.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for query in sorted((q for q in queries if q["_id"] in chosen_set), key=lambda q: q["_id"]):
            f.write(json.dumps({"_id": query["_id"], "text": query["text"]}, ensure_ascii=False) + "\n")

    with open(os.path.join(here, "qrels-test.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for query in sorted(chosen):
            for doc_id, score in sorted(judged[query].items()):
                f.write(f"{query}\t{doc_id}\t{score}\n")

    print(f"{len(chosen)} queries, {len(keep)} documents ({len(union)} judged), "
          f"{sum(len(judged[q]) for q in chosen)} judgements")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/nfcorpus")
