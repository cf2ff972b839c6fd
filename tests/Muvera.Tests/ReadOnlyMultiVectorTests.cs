// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Tests;

[TestFixture]
public sealed class ReadOnlyMultiVectorTests
{
    [TestCase(0)]
    [TestCase(-1)]
    public void Constructor_NonPositiveDimension_ThrowsArgumentOutOfRange(int dimension) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ReadOnlyMultiVector(new float[4], dimension));

    [Test]
    public void Constructor_RaggedLength_ThrowsNamingLengthAndDimension()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => _ = new ReadOnlyMultiVector(new float[130], 128))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.ParamName, Is.EqualTo("values"));
            Assert.That(e.Message, Does.Contain("130").And.Contain("128"));
        });
    }

    [Test]
    public void Indexer_ValidAndInvalidIndices_SlicesRowsOrThrows()
    {
        float[] values = [1, 2, 3, 4, 5, 6];
        var tokens = new ReadOnlyMultiVector(values, 2);
        Assert.Multiple(() =>
        {
            Assert.That(tokens.Count, Is.EqualTo(3));
            Assert.That(tokens.Dimension, Is.EqualTo(2));
            Assert.That(tokens[1].ToArray(), Is.EqualTo(new float[] { 3, 4 }));
            Assert.That(tokens.Span.Length, Is.EqualTo(6));
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = tokens[3].Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = tokens[-1].Length);
    }

    [Test]
    public void Default_HasNoTokens()
    {
        ReadOnlyMultiVector empty = default;
        Assert.Multiple(() =>
        {
            Assert.That(empty.Count, Is.Zero);
            Assert.That(empty.Dimension, Is.Zero);
            Assert.That(empty.ToString(), Is.EqualTo("ReadOnlyMultiVector(0 × 0)"));
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = empty[0].Length);
    }

    [Test]
    public void Equals_SameBufferAndShape_AreEqualElseNot()
    {
        float[] values = new float[8];
        var a = new ReadOnlyMultiVector(values, 4);
        var b = new ReadOnlyMultiVector(values, 4);
        var otherShape = new ReadOnlyMultiVector(values, 2);
        var otherBuffer = new ReadOnlyMultiVector(new float[8], 4);
        Assert.Multiple(() =>
        {
            Assert.That(a == b, Is.True);
            Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
            Assert.That(a != otherShape, Is.True);
            Assert.That(a.Equals(otherBuffer), Is.False, "equality is by buffer, not by contents");
            Assert.That(a.Equals((object)b), Is.True);
        });
    }
}
