#!/usr/bin/env bash
# `fluxgraph probe sigmas`: every ModelSamplingFlux table and schedule of golden stage 7 within
# 1e-6 (checked by test_sampling --compare-probe); goldens of another kind fail cleanly: exit 1,
# a message naming the problem, no output file.
# Usage: tests/test_probe_sigmas.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
golden=tests/fixtures/golden/sigmas.safetensors
. tests/shell_lib.sh

out="$tmp/out.safetensors"
expect_failure() { probe_expect_failure sigmas "$@"; } # NAME NEEDLE ARGS...

"$fg" probe sigmas --golden "$golden" --out "$tmp/sigmas.safetensors" >"$tmp/log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
check "probe sigmas on the golden file exits 0" $rc
"$build/tests/test_sampling" --compare-probe "$tmp/sigmas.safetensors" >"$tmp/cmp.log" 2>&1
rc=$?
grep -E '^(probe|FAIL|  tests)' "$tmp/cmp.log" | sed 's/^/  /'
check "probe sigmas output within 1e-6 of every golden table and schedule" $rc

expect_failure "golden without per-tensor metadata" "no metadata entry" --golden tests/fixtures/golden/sampler.safetensors
expect_failure "golden of another component" "'width' must be a number" --golden tests/fixtures/golden/rng.safetensors
expect_failure "golden file does not exist" "$tmp/none.safetensors" --golden "$tmp/none.safetensors"

finish
