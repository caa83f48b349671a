#!/bin/sh
# Prepares a GPU session (run here, on the machine without a GPU): builds the CUDA binaries for
# one architecture and packs them, with the non-CUDA shared libraries they load, into
# .gpupack/pack.tar.xz (git-ignored), small enough to travel with the working tree to a lent
# GPU machine (the device tool's limit is 64 MiB for tree + carried paths). There, run
#   tools/gpu_run.sh [test|bench|all]
# with .gpupack carried. Usage: tools/gpu_pack.sh [ARCH]   (default 90a: H100/H200)
set -eu
arch=${1:-90a}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
make -j2 BUILD=build-gpu CUDA_ARCHS="$arch" all >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
# Only what tools/gpu_run.sh runs: every binary carries the whole library and its CUDA code.
cp build-gpu/fluxgraph "$stage/bin/"
for t in test_ops test_flux test_vae test_text_models test_e2e; do cp "build-gpu/tests/$t" "$stage/bin/"; done
strip "$stage"/bin/*
# Every shared library outside the CUDA toolkit (the GPU image brings CUDA, cuBLASLt, cuDNN).
ldd build-gpu/fluxgraph | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
    case "$lib" in
    */libc.so* | */libm.so* | */libdl.so* | */libpthread.so* | */librt.so* | */ld-linux* | */libgcc_s.so* | */libstdc++.so*) ;;
    *cuda* | *cublas* | *cudnn* | *cudart*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
    esac
done
mkdir -p .gpupack
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpupack/' "$exclude" 2>/dev/null || echo '/.gpupack/' >>"$exclude"
# One solid stream with a dictionary larger than a binary: the copies of the library shared by
# the binaries compress to almost nothing.
tar -C "$stage" -cf - bin lib | xz -9e --lzma2=dict=64MiB >.gpupack/pack.tar.xz
echo "packed $(du -h .gpupack/pack.tar.xz | cut -f1) for sm_$arch into .gpupack/pack.tar.xz"
echo "tracked tree: $(git ls-files -z | xargs -0 cat | wc -c | awk '{printf "%.1f MiB", $1/1048576}') (tree + pack must stay under 64 MiB;"
echo "  if over, untrack the LoRA fixtures for the session: see docs/gpu.md)"
