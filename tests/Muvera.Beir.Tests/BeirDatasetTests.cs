// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using System.Threading;
using Muvera.Beir.Tests.Fixtures;

namespace Muvera.Beir.Tests;

public sealed class BeirDatasetTests
{
    private const string Corpus =
        "{\"_id\": \"d1\", \"title\": \"Title One\", \"text\": \" body one \", \"metadata\": {\"url\": \"x\"}}\n" +
        "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"body two\"}\n" +
        "{\"_id\": \"d3\", \"text\": \"\\u001fbody three\\n\"}\n" +
        "{\"_id\": \"d4\", \"title\": null, \"text\": \"  \"}\n";

    private const string Queries =
        "{\"_id\": \"q1\", \"text\": \" first query \", \"metadata\": {}}\n" +
        "{\"_id\": \"q2\", \"text\": \"second\"}\n" +
        "{\"_id\": \"q3\", \"text\": \"third, judged only in dev\"}\n" +
        "{\"_id\": \"q4\", \"text\": \"fourth\"}\n";

    private const string TestQrels = "query-id\tcorpus-id\tscore\r\nq4\td1\t0\r\nq2\td2\t2\r\nq2\td9\t1\r\nq4\td3\t0\r\n";

    private static TempDirectory WriteDataset(bool gzip)
    {
        var directory = new TempDirectory();
        directory.Write(gzip ? "corpus.jsonl.gz" : "corpus.jsonl", Corpus);
        directory.Write(gzip ? "queries.jsonl.gz" : "queries.jsonl", Queries);
        directory.Write("qrels/test.tsv", TestQrels);
        directory.Write("qrels/dev.tsv", "query-id\tcorpus-id\tscore\nq3\td3\t1\n");
        return directory;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Load_PlainOrGzip_ReadsCorpusQueriesAndQrels(bool gzip)
    {
        using TempDirectory directory = WriteDataset(gzip);

        BeirDataset dataset = BeirDataset.Load(directory.Path, "test");

        Assert.Multiple(() =>
        {
            Assert.That(dataset.Name, Is.EqualTo(System.IO.Path.GetFileName(directory.Path)));
            Assert.That(dataset.Split, Is.EqualTo("test"));
            Assert.That(dataset.Documents.Select(d => d.Id), Is.EqualTo(new[] { "d1", "d2", "d3", "d4" }));
            Assert.That(dataset.Documents[0].Title, Is.EqualTo("Title One"));
            Assert.That(dataset.Documents[0].Text, Is.EqualTo(" body one "));
            Assert.That(dataset.Documents[3].Title, Is.Null);
            // BEIR: queries = {qid: queries[qid] for qid in qrels}, in qrels order, including q4 (only grade-0 judgements).
            Assert.That(dataset.Queries.Select(q => q.Id), Is.EqualTo(new[] { "q4", "q2" }));
            Assert.That(dataset.Queries[0].Text, Is.EqualTo("fourth"));
            Assert.That(dataset.Qrels.QueryCount, Is.EqualTo(2));
            Assert.That(dataset.Qrels.JudgmentCount, Is.EqualTo(4));
            Assert.That(dataset.Qrels.GetGrade("q2", "d2"), Is.EqualTo(2));
        });
    }

    [Test]
    public void FullText_IsBeirsTitleSpaceTextStripped()
    {
        using TempDirectory directory = WriteDataset(gzip: false);

        BeirDataset dataset = BeirDataset.Load(directory.Path, "test");

        Assert.Multiple(() =>
        {
            // (title + " " + text).strip(): the inner double space stays.
            Assert.That(dataset.Documents[0].FullText, Is.EqualTo("Title One  body one"));
            // An empty title leaves only the text, stripped.
            Assert.That(dataset.Documents[1].FullText, Is.EqualTo("body two"));
            // No title: text.strip(), where Python's strip also removes U+001F.
            Assert.That(dataset.Documents[2].FullText, Is.EqualTo("body three"));
            Assert.That(dataset.Documents[3].FullText, Is.Empty);
        });
    }

    [Test]
    public void Load_OtherSplit_KeepsItsQueries()
    {
        using TempDirectory directory = WriteDataset(gzip: true);

        BeirDataset dataset = BeirDataset.Load(directory.Path, "dev");

        Assert.That(dataset.Queries.Select(q => q.Id), Is.EqualTo(new[] { "q3" }));
    }

    [Test]
    public void Load_PlainAndGzipBothPresent_PrefersPlain()
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        directory.Write("corpus.jsonl.gz", "{\"_id\": \"other\", \"text\": \"x\"}\n");

        BeirDataset dataset = BeirDataset.Load(directory.Path, "test");

        Assert.That(dataset.Documents, Has.Count.EqualTo(4));
    }

    [TestCase("{\"_id\": \"d5\", \"text\": \"ok\"}\n{\"_id\": \"d6\", \"text\": \"broken\"\n", "line 2", "not valid JSON")]
    [TestCase("{\"_id\": \"d5\", \"text\": \"ok\"}\n\n{\"text\": \"no id\"}\n", "line 3", "\"_id\" property is missing")]
    [TestCase("{\"_id\": \"d5\"}\n", "line 1", "\"text\" property is missing")]
    [TestCase("{\"_id\": \"d5\", \"text\": 7}\n", "line 1", "\"text\" must be a string")]
    [TestCase("[1, 2]\n", "line 1", "expected a JSON object")]
    [TestCase("{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d1\", \"text\": \"b\"}\n", "line 2", "appears twice")]
    public void Load_MalformedCorpusLine_ThrowsNamingFileAndLine(string corpus, string line, string cause)
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        string path = directory.Write("corpus.jsonl", corpus);

        var exception = Assert.Throws<InvalidDataException>(() => BeirDataset.Load(directory.Path, "test"));

        Assert.That(exception!.Message, Does.StartWith(path + " " + line + ":").And.Contain(cause));
    }

    [Test]
    public void Load_NumericId_TakenAsItsText()
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        directory.Write("corpus.jsonl", "{\"_id\": 42, \"text\": \"a\"}\n");

        BeirDataset dataset = BeirDataset.Load(directory.Path, "test");

        Assert.That(dataset.Documents[0].Id, Is.EqualTo("42"));
    }

    [Test]
    public void Load_InvalidUtf8_ThrowsNamingFile()
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        string path = directory.WriteBytes("corpus.jsonl", [.. "{\"_id\": \"d\", \"text\": \""u8.ToArray(), 0xFF, .. "\"}\n"u8.ToArray()]);

        var exception = Assert.Throws<InvalidDataException>(() => BeirDataset.Load(directory.Path, "test"));

        Assert.That(exception!.Message, Does.StartWith(path).And.Contain("UTF-8"));
    }

    [TestCase("query-id\tcorpus-id\tscore\nq2\td2\n", "line 2", "expected 3 tab-separated fields")]
    [TestCase("query-id\tcorpus-id\tscore\nq2\td2\t1.5\n", "line 2", "not an integer")]
    [TestCase("q2\td2\t1\n", "line 1", "expected the header line")]
    [TestCase("query-id\tcorpus-id\tscore\n\td2\t1\n", "line 2", "empty")]
    public void Load_MalformedQrelsLine_ThrowsNamingFileAndLine(string qrels, string line, string cause)
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        string path = directory.Write("qrels/test.tsv", qrels);

        var exception = Assert.Throws<InvalidDataException>(() => BeirDataset.Load(directory.Path, "test"));

        Assert.That(exception!.Message, Does.StartWith(path + " " + line + ":").And.Contain(cause));
    }

    [Test]
    public void Load_JudgedQueryMissingFromQueries_Throws()
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        directory.Write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq7\td1\t1\n");

        var exception = Assert.Throws<InvalidDataException>(() => BeirDataset.Load(directory.Path, "test"));

        Assert.That(exception!.Message, Does.Contain("\"q7\""));
    }

    [Test]
    public void Load_DuplicateQueryId_Throws()
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        string path = directory.Write("queries.jsonl", Queries + "{\"_id\": \"q1\", \"text\": \"again\"}\n");

        var exception = Assert.Throws<InvalidDataException>(() => BeirDataset.Load(directory.Path, "test"));

        Assert.That(exception!.Message, Does.StartWith(path + " line 5:"));
    }

    [Test]
    public void Load_MissingFiles_Throw()
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        File.Delete(directory.Combine("queries.jsonl"));

        Assert.Multiple(() =>
        {
            Assert.That(() => BeirDataset.Load(directory.Path, "test"), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("queries.jsonl.gz"));
            Assert.That(() => BeirDataset.Load(directory.Path, "train"), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("train.tsv"));
            Assert.That(() => BeirDataset.Load(directory.Combine("nope"), "test"), Throws.TypeOf<DirectoryNotFoundException>());
        });
    }

    [TestCase("../test")]
    [TestCase("")]
    [TestCase("a/b")]
    public void Load_SplitWithPath_Throws(string split)
    {
        using TempDirectory directory = WriteDataset(gzip: false);

        var exception = Assert.Throws<ArgumentException>(() => BeirDataset.Load(directory.Path, split));

        Assert.That(exception!.ParamName, Is.EqualTo("split"));
    }

    [Test]
    public void Load_Cancelled_Throws()
    {
        using TempDirectory directory = WriteDataset(gzip: false);
        directory.Write("corpus.jsonl", string.Concat(Enumerable.Range(0, 3000).Select(i => $"{{\"_id\": \"d{i}\", \"text\": \"x\"}}\n")));
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();

        Assert.That(() => BeirDataset.Load(directory.Path, "test", cancellation.Token), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void ReadCorpus_Streams_YieldsDocumentsBeforeAMalformedLine()
    {
        using TempDirectory directory = WriteDataset(gzip: true);
        directory.Write("corpus.jsonl.gz", "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\", \"text\": \"y\"}\nnot json\n");

        using var documents = BeirDataset.ReadCorpus(directory.Path).GetEnumerator();

        Assert.Multiple(() =>
        {
            Assert.That(documents.MoveNext() && documents.Current.Id == "a", Is.True);
            Assert.That(documents.MoveNext() && documents.Current.Id == "b", Is.True);
            Assert.That(() => documents.MoveNext(), Throws.TypeOf<InvalidDataException>().With.Message.Contains("line 3"));
        });
    }

    [Test]
    public void ReadQueries_ReturnsEveryQueryInFileOrder()
    {
        using TempDirectory directory = WriteDataset(gzip: false);

        Assert.That(BeirDataset.ReadQueries(directory.Path).Select(q => q.Id), Is.EqualTo(new[] { "q1", "q2", "q3", "q4" }));
    }

    [Test]
    public void Load_NfCorpusSample_HasTheDocumentedCounts()
    {
        // samples/data/nfcorpus/SOURCE.md: 3,633 documents; test qrels: 12,334 judgements of 323 queries
        // (grade 1: 11,758, grade 2: 576); dev qrels: 11,385 judgements of 324 queries; 3,237 queries in all.
        BeirDataset test = BeirDataset.Load(RepositoryPaths.NfCorpus, "test");
        Qrels dev = BeirDataset.ReadQrels(RepositoryPaths.NfCorpus, "dev");

        Assert.Multiple(() =>
        {
            Assert.That(test.Name, Is.EqualTo("nfcorpus"));
            Assert.That(test.Documents, Has.Count.EqualTo(3633));
            Assert.That(test.Queries, Has.Count.EqualTo(323));
            Assert.That(test.Qrels.JudgmentCount, Is.EqualTo(12334));
            Assert.That(test.Qrels.QueryIds.Sum(id => test.Qrels.GetJudgments(id).Values.Count(g => g == 2)), Is.EqualTo(576));
            Assert.That(test.Qrels.QueryIds.All(id => test.Qrels.CountRelevant(id) > 0), Is.True);
            Assert.That(test.Documents[0].Id, Is.EqualTo("MED-10"));
            Assert.That(test.Documents[0].FullText, Does.StartWith("Statin Use and Breast Cancer Survival: A Nationwide Cohort Study from Finland Recent studies"));
            Assert.That(dev.QueryCount, Is.EqualTo(324));
            Assert.That(dev.JudgmentCount, Is.EqualTo(11385));
            Assert.That(BeirDataset.ReadQueries(RepositoryPaths.NfCorpus).Count(), Is.EqualTo(3237));
        });
    }
}
