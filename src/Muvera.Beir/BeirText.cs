// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.Beir;

/// <summary>BEIR's text conventions, reproduced character for character.</summary>
internal static class BeirText
{
    /// <summary>
    /// The text BEIR's dense exact search encodes for a document (beir/retrieval/search/dense/exact_search.py):
    /// <c>(doc["title"] + sep + doc["text"]).strip() if "title" in doc else doc["text"].strip()</c> with <c>sep = " "</c>.
    /// A missing or null title takes the second branch (an empty title gives the same text either way).
    /// </summary>
    public static string CombineTitleAndText(string? title, string text) =>
        title is null ? PythonStrip(text) : PythonStrip(title + " " + text);

    /// <summary>
    /// Python's argument-less <c>str.strip()</c>: removes leading and trailing characters for which
    /// <c>str.isspace()</c> is true. That set is .NET's <see cref="char.IsWhiteSpace(char)"/> plus U+001C–U+001F
    /// (the information separators, which Python counts as white space and .NET does not).
    /// </summary>
    public static string PythonStrip(string value)
    {
        int start = 0;
        int end = value.Length;
        while (start < end && IsPythonWhiteSpace(value[start]))
        {
            start++;
        }

        while (end > start && IsPythonWhiteSpace(value[end - 1]))
        {
            end--;
        }

        return start == 0 && end == value.Length ? value : value[start..end];
    }

    /// <summary>Python's <c>str.isspace()</c> for one UTF-16 code unit (no white space lies outside the BMP).</summary>
    public static bool IsPythonWhiteSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';
}
