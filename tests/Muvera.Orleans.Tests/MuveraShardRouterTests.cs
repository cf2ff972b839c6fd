// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Globalization;

namespace Muvera.Orleans.Tests;

public sealed class MuveraShardRouterTests
{
    [Test]
    public void ShardOf_KnownIds_MatchPinnedXxHash64Routes()
    {
        // XxHash64 (seed 0) of the UTF-8 bytes mod 7, pinned: a change here moves documents between shards.
        Assert.Multiple(() =>
        {
            Assert.That(MuveraShardRouter.ShardOf("", 7), Is.EqualTo((int)(0xEF46DB3751D8E999UL % 7)));
            Assert.That(MuveraShardRouter.ShardOf("a", 7), Is.EqualTo((int)(0xD24EC4F1A98C6E5BUL % 7)));
            Assert.That(MuveraShardRouter.ShardOf("abc", 7), Is.EqualTo((int)(0x44BC2CF5AD770999UL % 7)));
        });
    }

    [Test]
    public void ShardOf_NonAsciiId_HashesUtf8Bytes()
    {
        string id = "doc-é-\U0001F600";
        ulong hash = System.IO.Hashing.XxHash64.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(id));
        Assert.That(MuveraShardRouter.ShardOf(id, 13), Is.EqualTo((int)(hash % 13)));
    }

    [Test]
    public void ShardOf_ManyIds_SpreadEvenly()
    {
        const int Shards = 8;
        const int Ids = 16_000;
        var counts = new int[Shards];
        for (int i = 0; i < Ids; i++)
        {
            counts[MuveraShardRouter.ShardOf("doc" + i.ToString(CultureInfo.InvariantCulture), Shards)]++;
        }

        Assert.That(counts, Has.All.InRange(Ids / Shards * 9 / 10, Ids / Shards * 11 / 10));
    }

    [Test]
    public void ShardOf_BadArguments_Throw()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => MuveraShardRouter.ShardOf(null!, 3), Throws.ArgumentNullException);
            Assert.That(() => MuveraShardRouter.ShardOf("x", 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("shardCount"));
        });
    }
}
