// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Threading;
using ILGPU;

namespace Muvera.Gpu;

/// <summary>Finds the CUDA driver for ILGPU where the default probing would not.</summary>
/// <remarks>ILGPU imports the driver as "cuda", which the default probing finds only as libcuda.so, a name that driver
/// packages without development files (and container runtimes) often lack; they always provide libcuda.so.1. ILGPU
/// loads the driver once per process, so this must run before the first ILGPU context with CUDA enabled.</remarks>
internal static class CudaDriver
{
    private static int s_registered;

    /// <summary>Adds the fallback resolver (once per process).</summary>
    public static void RegisterResolver()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
        {
            AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
        }
    }

    private static IntPtr Resolve(Assembly assembly, string name) =>
        assembly == typeof(Context).Assembly && name == "cuda" && OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libcuda.so.1", out IntPtr handle)
            ? handle
            : IntPtr.Zero;
}
