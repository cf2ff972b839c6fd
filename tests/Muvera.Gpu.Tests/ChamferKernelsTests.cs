// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Collections.Generic;
using ILGPU.Runtime.Cuda;

namespace Muvera.Gpu.Tests;

/// <summary>
/// The kernel compiles to PTX for Hopper (sm_90) with ILGPU's PTX backend alone: no GPU, driver or CUDA toolkit.
/// </summary>
/// <remarks>
/// ILGPU 1.5.3 writes <c>.target</c> as the lowest architecture that the kernel's capabilities need, capped at sm_80
/// (<c>CudaCapabilityContext.TargetArchitecture</c> = min(requested, sm_80)); the CUDA driver JIT-compiles that PTX to
/// the device's own SASS when the module is loaded, which is how an sm_90 device runs it. The ISA version is the one
/// requested (7.8 is the first that knows sm_90).
/// </remarks>
[TestFixture]
public sealed class ChamferKernelsTests
{
    [Test]
    public void CompilePtx_Sm90_EmitsBothKernelsWithoutADevice()
    {
        IReadOnlyList<KeyValuePair<string, string>> kernels = ChamferKernels.CompilePtx(CudaArchitecture.SM_90, CudaInstructionSet.ISA_78);

        Assert.That(kernels, Has.Count.EqualTo(2), "Float32 and Float16 instantiations");
        Assert.Multiple(() =>
        {
            foreach ((string name, string ptx) in kernels)
            {
                Assert.That(name, Is.EqualTo("Kernel_Score"));
                Assert.That(ptx, Does.Contain(".version 7.8"));
                Assert.That(ptx, Does.Contain(".target sm_80"), "ILGPU 1.5.3 caps the target at sm_80; the driver JITs it for sm_90");
                Assert.That(ptx, Does.Contain(".address_size 64"));
                Assert.That(ptx, Does.Contain($".entry {name}("));
                Assert.That(ptx, Does.Contain("bar.sync"), "group barriers around the shared-memory slabs");
                Assert.That(ptx, Does.Contain("shfl.sync.bfly"), "warp max-reduction in registers");
                Assert.That(ptx, Does.Contain(".extern .shared"), "dynamic shared memory");
            }

            Assert.That(kernels[1].Value, Does.Contain("cvt.f32.f16"), "Float16 tokens are converted in the kernel");
            Assert.That(kernels[0].Value, Does.Not.Contain("cvt.f32.f16"));
        });
    }

    [Test]
    public void CompilePtx_OlderArchitecture_TargetsIt()
    {
        string ptx = ChamferKernels.CompilePtx(CudaArchitecture.SM_75, CudaInstructionSet.ISA_70)[0].Value;
        Assert.That(ptx, Does.Contain(".target sm_75").And.Contain(".version 7.0"));
    }

    [TestCase(2, 4, 2)]
    [TestCase(32, 256, 8)]
    public void SharedFloats_QuerySlabDocumentSlabAndWarpSums(int warpSize, int groupSize, int warps)
    {
        int expected = (warps * ChamferKernels.QueryTokensPerWarp * ChamferKernels.SlabCoordinates)
            + (ChamferKernels.SlabCoordinates * (warpSize + 1)) + warps;
        Assert.That(ChamferKernels.SharedFloats(groupSize, warpSize), Is.EqualTo(expected));
        Assert.That(ChamferKernels.SharedFloats(256, 32) * sizeof(float), Is.LessThanOrEqualTo(48 * 1024), "fits CUDA's default 48 KiB per group");
    }
}
