// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Linq;
using System.Reflection;
using Muvera.Indexing;

namespace Muvera.Tests.Indexing;

/// <summary>
/// The meta-test of the MIPS conformance suite: every public <see cref="IMipsIndex"/> backend in the Muvera assemblies
/// has a fixture deriving from <see cref="MipsIndexConformanceTests{TIndex}"/>, and no such fixture is switched off
/// (ignored or explicit). Skipping at run time is handled by the suite itself: under <c>CI=true</c> an unavailable
/// backend fails instead of being skipped.
/// </summary>
public sealed class MipsConformanceCoverageTests
{
    private static readonly string[] s_backendAssemblies = ["Muvera", "Muvera.USearch", "Muvera.Faiss"];

    [Test]
    public void EveryBackend_HasAnEnabledConformanceFixture()
    {
        Type[] backends = s_backendAssemblies
            .SelectMany(name => Assembly.Load(name).GetExportedTypes())
            .Where(t => t.IsClass && !t.IsAbstract && typeof(IMipsIndex).IsAssignableFrom(t))
            .ToArray();
        Assert.That(backends.Select(t => t.Name), Is.SupersetOf(new[] { "FlatMipsIndex", "USearchMipsIndex", "FaissMipsIndex" }),
            "the known backends are found (so this test cannot pass on an empty list)");

        Type[] fixtures = typeof(MipsConformanceCoverageTests).Assembly.GetTypes()
            .Where(t => t.IsClass && !t.IsAbstract && ConformanceIndexType(t) is not null)
            .ToArray();
        foreach (Type backend in backends)
        {
            Assert.That(fixtures.Any(f => ConformanceIndexType(f) == backend), $"{backend.FullName} has no conformance fixture");
        }

        foreach (Type fixture in fixtures)
        {
            Assert.That(fixture.GetCustomAttributes<IgnoreAttribute>(inherit: true), Is.Empty, $"{fixture.Name} is ignored");
            Assert.That(fixture.GetCustomAttributes<ExplicitAttribute>(inherit: true), Is.Empty, $"{fixture.Name} is explicit");
            Assert.That(fixture.IsPublic, $"{fixture.Name} must be public for NUnit to run it");
        }
    }

    private static Type? ConformanceIndexType(Type type)
    {
        for (Type? t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(MipsIndexConformanceTests<>))
            {
                return t.GetGenericArguments()[0];
            }
        }

        return null;
    }
}
