// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Onnx.Tests;

[TestFixture]
public sealed class OnnxEncoderSettingsTests
{
    [Test]
    public void Constructor_Defaults_AllCoresBatchesOf32SortedByLength()
    {
        var settings = new OnnxEncoderSettings();
        Assert.That((settings.IntraOpThreads, settings.BatchSize, settings.SortByLength), Is.EqualTo((0, 32, true)));
        Assert.That(settings.EffectiveIntraOpThreads, Is.EqualTo(Environment.ProcessorCount));
        Assert.That((settings with { IntraOpThreads = 3 }).EffectiveIntraOpThreads, Is.EqualTo(3));
    }

    [Test]
    public void Init_OutOfRange_ThrowsNamingTheProperty()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new OnnxEncoderSettings { IntraOpThreads = -1 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("IntraOpThreads"));
            Assert.That(() => new OnnxEncoderSettings { BatchSize = 0 }, Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("BatchSize"));
            Assert.That(() => new OnnxEncoderSettings { BatchSize = OnnxEncoderSettings.MaxBatchSize + 1 }, Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }
}
