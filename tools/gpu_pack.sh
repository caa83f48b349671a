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
cp build-gpu/fluxgraph "$stage/bin/"
for t in build-gpu/tests/test_*; do [ -x "$t" ] && cp "$t" "$stage/bin/"; done
strip --strip-debug "$stage"/bin/* 2>/dev/null || true
# Every shared library outside the CUDA toolkit (the GPU image brings CUDA, cuBLASLt, cuDNN).
ldd build-gpu/fluxgraph | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
    case "$lib" in
    */libc.so* | */libm.so* | */libdl.so* | */libpthread.so* | */librt.so* | */ld-linux* | */libgcc_s.so* | */libstdc++.so*) ;;
    *cuda* | *cublas* | *cudnn* | *cudart*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
    esac
done
mkdir -p .gpupack
grep -qx '/.gpupack/' .git/info/exclude 2>/dev/null || echo '/.gpupack/' >>.git/info/exclude
tar -C "$stage" -cf - bin lib | xz -6 -T2 >.gpupack/pack.tar.xz
echo "packed $(du -h .gpupack/pack.tar.xz | cut -f1) for sm_$arch into .gpupack/pack.tar.xz"
echo "tracked tree: $(git ls-files -z | xargs -0 cat | wc -c | awk '{printf "%.1f MiB", $1/1048576}') (tree + pack must stay under 64 MiB)"
