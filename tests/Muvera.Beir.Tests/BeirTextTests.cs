// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera.Beir.Tests;

public sealed class BeirTextTests
{
    [TestCase("Title", "text", "Title text")]
    [TestCase("", " text ", "text")]
    [TestCase(" T ", "x\n", "T  x")]
    [TestCase("\u001c", "\u00a0x\u2003", "x")]
    [TestCase("a", "\u200b", "a \u200b")] // U+200B is not white space for Python (nor for .NET)
    public void CombineTitleAndText_MatchesPythonStrip(string title, string text, string expected)
    {
        Assert.That(BeirText.CombineTitleAndText(title, text), Is.EqualTo(expected));
    }

    [Test]
    public void CombineTitleAndText_NoTitle_StripsTextOnly()
    {
        Assert.That(BeirText.CombineTitleAndText(null, "\t body \u001f"), Is.EqualTo("body"));
    }

    [Test]
    public void IsPythonWhiteSpace_AgreesWithPythonsIsspaceOnTheBmp()
    {
        // Python 3: [c for c in range(0x10000) if chr(c).isspace()]
        int[] pythonSpaces = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
            0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029,
            0x202F, 0x205F, 0x3000];
        var expected = new System.Collections.Generic.HashSet<int>(pythonSpaces);
        Assert.Multiple(() =>
        {
            for (int c = 0; c < 0x10000; c++)
            {
                if (BeirText.IsPythonWhiteSpace((char)c) != expected.Contains(c))
                {
                    Assert.Fail($"U+{c:X4}: expected isspace = {expected.Contains(c)}");
                }
            }
        });
    }
}
