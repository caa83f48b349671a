#!/usr/bin/env bash
# Runs every test program (build/tests/test_*) and every shell test (tests/test_*.sh), each of
# which ends with an "N passed, N failed" line, and prints the sum as the final line.
# `make test-gpu` runs the GPU's share (FG_TEST_DEVICE=cuda) on a machine with a GPU.
# Usage: tests/run_tests.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
# The suite checks the CPU backend against the goldens: `fluxgraph` commands default to the CPU
# here even on a machine with a GPU (tests that exercise CUDA ask for it with --device cuda).
export FLUXGRAPH_DEVICE=cpu
# The golden images and noise come from torch on x86-64 (its AVX2 randn kernel); pin it so an
# aarch64 run (whose native choice is torch's generic kernel) checks the same numbers. test_rng
# and test_probe.sh check the native choice and the generic kernel on their own.
export FLUXGRAPH_NOISE_COMPAT=avx2
total_pass=0
total_fail=0
broken=()
run_one() {
    local name=$1; shift
    local log
    log=$(mktemp)
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "== $name: no summary line (exit $rc)"; tail -n 30 "$log"
        broken+=("$name"); total_fail=$((total_fail + 1))
    else
        local p f
        p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
        total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
        if [ "$f" != 0 ] || [ $rc != 0 ]; then
            echo "== $name: $line (exit $rc)"; grep -E '^(FAIL| )' "$log" | head -n 60
            [ "$f" = 0 ] && { broken+=("$name"); total_fail=$((total_fail + 1)); }
        else
            echo "== $name: $line ($((SECONDS - start))s)"
        fi
    fi
    rm -f "$log"
}
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/test_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" bash "$t" "$build"
done
[ ${#broken[@]} -gt 0 ] && echo "broken: ${broken[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
