#!/usr/bin/env bash
# `fluxgraph probe sigmas`: every ModelSamplingFlux table and schedule of golden stage 7 within
# 1e-6 (checked by test_sampling --compare-probe); goldens of another kind fail cleanly: exit 1,
# a message naming the problem, no output file.
# Usage: tests/test_probe_sigmas.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
golden=tests/fixtures/golden/sigmas.safetensors
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fluxgraph-probe-sigmas-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() { # NAME CONDITION-EXIT-CODE
    if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"
    else failed=$((failed + 1)); echo "FAIL $1"; fi
}

out="$tmp/out.safetensors"
expect_failure() { # NAME NEEDLE ARGS...
    local name=$1 needle=$2; shift 2
    rm -f "$out" "$out.tmp"
    "$fg" probe sigmas "$@" --out "$out" >"$tmp/log" 2>&1
    local rc=$? ok=0
    [ $rc = 1 ] || { echo "  exit $rc, expected 1"; ok=1; }
    grep -q -- "$needle" "$tmp/log" || { echo "  message lacks '$needle':"; sed 's/^/    /' "$tmp/log"; ok=1; }
    if [ -e "$out" ] || [ -e "$out.tmp" ]; then echo "  output file left behind"; ok=1; fi
    check "$name" $ok
}

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

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
