#!/usr/bin/env bash
# Copyright (c) Muvera contributors. Licensed under the MIT License.
#
# GPU check of Muvera.Gpu: builds Muvera.GpuCheck as ONE self-contained, compressed linux-x64 executable (no .NET
# needed where it runs) and, with `check`, runs it: GPU == CPU scores on 10k random documents, then rerank and
# brute-force throughput for 32 x 128 queries against 80-token Float16 documents, written to a JSON file.
#
#   bench/gpu/run.sh [publish]          build bench/gpu/bin/publish/Muvera.GpuCheck (needs the .NET SDK)
#   bench/gpu/run.sh check [options]    run it (publishing first when the SDK is present); options go to the program,
#                                       e.g. --documents 200000 --out result.json, or --cpu-accelerator (no GPU needed)
#
# Exit codes of `check`: 0 passed, 1 a GPU score differs from the CPU scorer's, 2 no CUDA device, 64 bad arguments.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
publish_dir="$here/bin/publish"
binary="$publish_dir/Muvera.GpuCheck"

# Its own artifacts folder: a RID-specific restore and build never touches the obj/ folders of the everyday build.
publish() {
  dotnet publish "$here/Muvera.GpuCheck/Muvera.GpuCheck.csproj" -c Release -r linux-x64 --self-contained true \
    -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true \
    -p:DebugType=none --artifacts-path "$here/bin/artifacts" -o "$publish_dir" -nologo
  echo "published: $binary ($(du -h "$binary" | cut -f1))"
}

mode="${1:-publish}"
case "$mode" in
  publish)
    publish
    ;;
  check)
    shift
    if command -v dotnet >/dev/null 2>&1; then
      publish
    elif [[ ! -x "$binary" ]]; then
      echo "run.sh: $binary is missing and there is no .NET SDK here to build it; publish it on a machine with the SDK first." >&2
      exit 64
    fi
    commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    args=("$@")
    if [[ " ${args[*]-} " != *" --out "* ]]; then
      args+=(--out "$root/bench/results/$(date -u +%Y-%m-%d)-gpu-check.json")
    fi
    if [[ " ${args[*]-} " != *" --commit "* ]]; then
      args+=(--commit "$commit")
    fi
    exec "$binary" "${args[@]}"
    ;;
  -h|--help)
    sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "run.sh: unknown mode '$mode' (publish | check)" >&2
    exit 64
    ;;
esac
