// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Muvera.Samples.VectorData;
using Muvera.VectorData.Tests.Fixtures;

namespace Muvera.VectorData.Tests;

/// <summary>samples/Muvera.Samples.VectorData prints filtered results: only travel articles from 2020 on, the Paris
/// one first.</summary>
[TestFixture]
public sealed class VectorDataSampleTests
{
    [Test]
    [CancelAfter(300_000)]
    public async Task RunAsync_EmbeddedModel_PrintsFilteredResultsWithParisFirst()
    {
        string directory = TestData.NewDirectory();
        try
        {
            using var output = new StringWriter();

            await Program.RunAsync(directory, output);

            string[] lines = output.ToString().Split('\n', System.StringSplitOptions.RemoveEmptyEntries | System.StringSplitOptions.TrimEntries);
            Assert.That(lines[0], Is.EqualTo("query: which city has the iron tower"));
            Assert.That(lines[1], Is.EqualTo("filter: Topic == \"travel\" && Year >= 2020"));
            string[] results = lines[2..];
            Assert.That(results, Has.Length.EqualTo(3));
            Assert.That(results[0], Does.StartWith("paris-2023 (travel, 2023) MaxSim "));
            foreach (string line in results)
            {
                Match match = Regex.Match(line, @"^(?<id>[a-z]+-\d{4}) \((?<topic>\w+), (?<year>\d{4})\) MaxSim (?<score>\d+\.\d\d): ");
                Assert.That(match.Success, Is.True, line);
                Assert.That(match.Groups["topic"].Value, Is.EqualTo("travel"), line);
                Assert.That(int.Parse(match.Groups["year"].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(2020), line);
            }

            Assert.That(results.Select(l => l.Split(' ')[0]), Has.No.Member("paris-2019").And.No.Member("steel-2024"));
        }
        finally
        {
            TestData.DeleteDirectory(directory);
        }
    }
}
