// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;

namespace Muvera.Orleans.Tests;

public sealed class ShardWriteAheadLogTests
{
    private string _directory = null!;

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "muvera-wal-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    private string LogPath => Path.Combine(_directory, "wal.log");

    private static ShardLogRecord Add(params string[] ids) => new(ShardLogOperation.Add,
        Array.ConvertAll(ids, id => new ShardDocument(id, 2, [1f, -2.5f, id.Length, float.Epsilon])));

    [Test]
    public void ReadAll_AfterAppends_ReturnsRecordsInOrder()
    {
        using (ShardWriteAheadLog log = ShardWriteAheadLog.Open(LogPath))
        {
            log.Append(Add("a", "bb"));
            log.Append(new ShardLogRecord(ShardLogOperation.Delete, [new ShardDocument("a", 0, [])]));
            log.Append(new ShardLogRecord(ShardLogOperation.Update, [new ShardDocument("bb", 2, [3f, 4f])]));
        }

        using ShardWriteAheadLog reopened = ShardWriteAheadLog.Open(LogPath);
        var records = reopened.ReadAll(out long torn);
        Assert.Multiple(() =>
        {
            Assert.That(torn, Is.Zero);
            Assert.That(records.ConvertAll(r => r.Operation), Is.EqualTo(new[] { ShardLogOperation.Add, ShardLogOperation.Delete, ShardLogOperation.Update }));
            Assert.That(records[0].Documents[1].Id, Is.EqualTo("bb"));
            Assert.That(records[0].Documents[1].Tokens, Is.EqualTo(new[] { 1f, -2.5f, 2f, float.Epsilon }));
            Assert.That(records[2].Documents[0].Tokens, Is.EqualTo(new[] { 3f, 4f }));
        });
    }

    [Test]
    public void ReadAll_TornLastRecord_CutsItAndKeepsTheRest()
    {
        long whole;
        using (ShardWriteAheadLog log = ShardWriteAheadLog.Open(LogPath))
        {
            log.Append(Add("a"));
            whole = log.Length;
            log.Append(Add("b"));
        }

        using (var file = new FileStream(LogPath, FileMode.Open))
        {
            file.SetLength(file.Length - 3);
        }

        using ShardWriteAheadLog reopened = ShardWriteAheadLog.Open(LogPath);
        var records = reopened.ReadAll(out long torn);
        Assert.Multiple(() =>
        {
            Assert.That(records, Has.Count.EqualTo(1));
            Assert.That(records[0].Documents[0].Id, Is.EqualTo("a"));
            Assert.That(torn, Is.Positive);
            Assert.That(reopened.Length, Is.EqualTo(whole));
        });
        reopened.Append(Add("c"));
        Assert.That(reopened.ReadAll(out _).ConvertAll(r => r.Documents[0].Id), Is.EqualTo(new[] { "a", "c" }));
    }

    [Test]
    public void ReadAll_CorruptChecksum_StopsThere()
    {
        using (ShardWriteAheadLog log = ShardWriteAheadLog.Open(LogPath))
        {
            log.Append(Add("a"));
            log.Append(Add("b"));
        }

        byte[] bytes = File.ReadAllBytes(LogPath);
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(LogPath, bytes);
        using ShardWriteAheadLog reopened = ShardWriteAheadLog.Open(LogPath);
        Assert.That(reopened.ReadAll(out _).ConvertAll(r => r.Documents[0].Id), Is.EqualTo(new[] { "a" }));
    }

    [Test]
    public void Open_WhileOpen_ThrowsIOException()
    {
        using ShardWriteAheadLog log = ShardWriteAheadLog.Open(LogPath);
        Assert.That(() => ShardWriteAheadLog.Open(LogPath).Dispose(), Throws.InstanceOf<IOException>());
    }

    [Test]
    public void Open_NotALog_ThrowsInvalidDataNamingTheMagic()
    {
        File.WriteAllText(LogPath, "this is not a write-ahead log");
        Assert.That(() => ShardWriteAheadLog.Open(LogPath), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("MUVWAL01"));
    }

    [Test]
    public void Truncate_RemovesEveryRecord()
    {
        using ShardWriteAheadLog log = ShardWriteAheadLog.Open(LogPath);
        log.Append(Add("a"));
        Assert.That(log.IsEmpty, Is.False);
        log.Truncate();
        Assert.Multiple(() =>
        {
            Assert.That(log.IsEmpty, Is.True);
            Assert.That(log.ReadAll(out _), Is.Empty);
            Assert.That(new FileInfo(LogPath).Length, Is.EqualTo(ShardWriteAheadLog.HeaderLength));
        });
    }
}
