// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;

namespace Muvera.Beir;

/// <summary>
/// The order in which trec_eval ranks a query's retrieved documents, whatever order (or rank column) they came in.
/// </summary>
/// <remarks>
/// trec_eval 9.x, <c>form_res_rels.c</c>, <c>te_form_res_rels</c>: "Sort results by sim, breaking ties
/// lexicographically using docno" with <c>comp_sim_docno</c>, which returns -1 when <c>p1->sim &gt; p2->sim</c>, 1 when
/// it is smaller, and otherwise <c>strcmp(p2->docno, p1->docno)</c>: score descending, then docno DEScending by bytes.
/// pytrec_eval pre-sorts with a different comparator (docno ascending) before handing the results to trec_eval, but
/// <c>te_form_res_rels</c> sorts again with the total order above, so its ranking is the one that counts. Scores are
/// doubles (pytrec_eval converts Python floats with <c>PyFloat_AsDouble</c>, trec_eval parses run files with
/// <c>atof</c>); -0.0 and 0.0 tie. <c>strcmp</c> compares UTF-8 bytes, i.e. Unicode code points, which differs from
/// .NET's ordinal UTF-16 comparison only between surrogate pairs and U+E000–U+FFFF; <see cref="CompareUtf8"/> fixes
/// that up.
/// </remarks>
internal sealed class TrecOrder : IComparer<RetrievedDocument>
{
    public static readonly TrecOrder Instance = new();

    private TrecOrder()
    {
    }

    public int Compare(RetrievedDocument x, RetrievedDocument y)
    {
        if (x.Score > y.Score)
        {
            return -1;
        }

        if (x.Score < y.Score)
        {
            return 1;
        }

        return CompareUtf8(y.DocumentId, x.DocumentId);
    }

    /// <summary>Compares two strings as <c>strcmp</c> compares their UTF-8 encodings (code point order).</summary>
    public static int CompareUtf8(string a, string b)
    {
        int length = Math.Min(a.Length, b.Length);
        for (int i = 0; i < length; i++)
        {
            char ca = a[i];
            char cb = b[i];
            if (ca != cb)
            {
                return CodePointOrderKey(ca) - CodePointOrderKey(cb);
            }
        }

        return a.Length - b.Length;
    }

    /// <summary>Moves surrogates (D800–DFFF, which start code points above U+FFFF) above U+E000–U+FFFF.</summary>
    private static int CodePointOrderKey(char c) => c < '\uD800' ? c : c >= '\uE000' ? c - 0x800 : c + 0x2000;
}
