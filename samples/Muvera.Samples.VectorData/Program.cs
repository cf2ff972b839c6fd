// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Globalization;
using System.IO;
using System.Threading.Tasks;
using Microsoft.Extensions.VectorData;
using Muvera.Onnx;
using Muvera.VectorData;

namespace Muvera.Samples.VectorData;

/// <summary>Upserts a few articles into a Muvera VectorData collection and searches them with a filter.</summary>
public static class Program
{
    /// <summary>Runs the sample in a folder of the temporary directory (or the folder given as the first argument).</summary>
    public static async Task<int> Main(string[] args)
    {
        string directory = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "muvera-vectordata-sample");
        await RunAsync(directory, Console.Out);
        return 0;
    }

    /// <summary>The sample: a store in <paramref name="directory"/>, results written to <paramref name="output"/>.</summary>
    public static async Task RunAsync(string directory, TextWriter output)
    {
        // The embedded all-MiniLM-L6-v2 encodes records (as documents) and search texts (as queries), offline.
        using var generator = OnnxMultiVectorEmbeddingGenerator.CreateDefault();
        using var store = new MuveraVectorStore(directory, new MuveraVectorStoreOptions { EmbeddingGenerator = generator });
        using VectorStoreCollection<string, Article> articles = store.GetCollection<string, Article>("articles");
        await articles.EnsureCollectionDeletedAsync();
        await articles.EnsureCollectionExistsAsync();
        await articles.UpsertAsync(
        [
            new Article { Id = "paris-2019", Topic = "travel", Year = 2019, Text = "The Eiffel Tower is a wrought-iron lattice tower in Paris." },
            new Article { Id = "paris-2023", Topic = "travel", Year = 2023, Text = "Paris reopened the top floor of its iron tower, the Eiffel Tower, to visitors." },
            new Article { Id = "lyon-2020", Topic = "travel", Year = 2020, Text = "Lyon's Fourviere hill has a metal tower that looks like the top of the Eiffel Tower." },
            new Article { Id = "london-2021", Topic = "travel", Year = 2021, Text = "Tower Bridge in London crosses the Thames between two stone towers." },
            new Article { Id = "rome-2022", Topic = "travel", Year = 2022, Text = "The Colosseum in Rome is an ancient amphitheatre of stone and concrete." },
            new Article { Id = "steel-2024", Topic = "industry", Year = 2024, Text = "Iron ore is smelted into steel in the blast furnaces of the city." },
            new Article { Id = "tea-2022", Topic = "health", Year = 2022, Text = "Green tea contains catechins that may lower blood pressure." },
        ]);

        const string Query = "which city has the iron tower";
        output.WriteLine($"query: {Query}");
        output.WriteLine("filter: Topic == \"travel\" && Year >= 2020");
        var options = new VectorSearchOptions<Article> { Filter = a => a.Topic == "travel" && a.Year >= 2020 };
        await foreach (VectorSearchResult<Article> result in articles.SearchAsync(Query, top: 3, options))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.Record.Id} ({result.Record.Topic}, {result.Record.Year}) MaxSim {result.Score:F2}: {result.Record.Text}"));
        }
    }
}
