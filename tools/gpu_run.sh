#!/bin/sh
# Runs on a lent GPU machine, from the repo root with .gpupack carried (see tools/gpu_pack.sh):
#   tools/gpu_run.sh test    the GPU test suite: op parity (every path), models, e2e
#   tools/gpu_run.sh bench   fluxgraph bench + the PyTorch reference, side by side
#   tools/gpu_run.sh all     both
# Logs and JSON results go to $OUT (or /tmp/fg-out) for the device tool to bring back.
set -u
what=${1:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-/tmp/fg-out}
mkdir -p "$out" /tmp/fg
xz -dc .gpupack/pack.tar.xz | tar -C /tmp/fg -xf - || { echo "gpu_run: no .gpupack/pack.tar.xz (carry .gpupack)"; exit 2; }
libs=/tmp/fg/lib
for name in libcudnn.so.9 libcublasLt.so.13 libcudart.so.13; do
    dir=$(find /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu / -name "$name" -print -quit 2>/dev/null | head -1)
    [ -n "$dir" ] && libs="$libs:$(dirname "$dir")"
done
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export FG_BUILD=/tmp/fg/bin
bin=/tmp/fg/bin
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/gpu.txt"
ldd "$bin/fluxgraph" | grep "not found" && { echo "gpu_run: missing libraries"; exit 2; }
"$bin/fluxgraph" version | tee -a "$out/gpu.txt"
rm -f "$out/failed"
# A build folder as the test scripts expect it (BUILD/fluxgraph, BUILD/tests/test_*).
mkdir -p /tmp/fg/build && ln -sf "$bin/fluxgraph" /tmp/fg/build/fluxgraph && ln -sfn "$bin" /tmp/fg/build/tests
if [ "$what" = test ] || [ "$what" = all ]; then
    {
        bash tests/gpu_tests.sh /tmp/fg/build || echo "tests/gpu_tests.sh" >>"$out/failed"
        "$bin/test_ops" >/dev/null || echo "test_ops on this machine's CPU" >>"$out/failed"
    } 2>&1 | tee "$out/test-gpu.log"
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
    OUT="$out/bench" bash bench/gpu_bench.sh /tmp/fg/build 2>&1 | tee "$out/bench.log"
fi
[ -s "$out/failed" ] && { echo "gpu_run: failed:"; cat "$out/failed"; exit 1; }
exit 0
