#!/usr/bin/env bash
# `fluxgraph probe clip|t5` on the golden files with the tiny models: every golden output is
# written and within the fixtures README tolerance (checked by test_text_models
# --compare-probe); wrong models and missing options fail cleanly without an output file.
# Usage: tests/test_probe_text.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
models=tests/fixtures/models/text_encoders
golden=tests/fixtures/golden
. tests/shell_lib.sh

probe_and_compare() { # COMPONENT MODEL
    local out="$tmp/$1.safetensors"
    "$fg" --device cpu probe "$1" --golden "$golden/$1.safetensors" --model "$models/$2" --out "$out" \
        >"$tmp/log" 2>&1
    local rc=$?
    [ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
    check "probe $1 exits 0" $rc
    "$build/tests/test_text_models" --compare-probe "$1" "$out" >"$tmp/cmp.log" 2>&1
    rc=$?
    grep -E '^(  (clip|t5)|FAIL|  tests)' "$tmp/cmp.log" | sed 's/^/  /'
    check "probe $1 output within the golden tolerance" $rc
}

probe_and_compare clip tiny-clip-l.safetensors
probe_and_compare t5 tiny-t5xxl.safetensors

out="$tmp/bad.safetensors"
expect_failure() { # NAME NEEDLE ARGS...
    local name=$1 needle=$2; shift 2
    rm -f "$out" "$out.tmp"
    "$fg" --device cpu probe "$@" --out "$out" >"$tmp/log" 2>&1
    local rc=$? ok=0
    [ $rc = 1 ] || { echo "  exit $rc, expected 1"; ok=1; }
    grep -q -- "$needle" "$tmp/log" || { echo "  message lacks '$needle':"; sed 's/^/    /' "$tmp/log"; ok=1; }
    if [ -e "$out" ] || [ -e "$out.tmp" ]; then echo "  output file left behind"; ok=1; fi
    check "$name" $ok
}

expect_failure "clip without --model" "needs --model" clip --golden "$golden/clip.safetensors"
expect_failure "t5 without --model" "needs --model" t5 --golden "$golden/t5.safetensors"
expect_failure "clip with the T5 model" "not a CLIP text model" \
    clip --golden "$golden/clip.safetensors" --model "$models/tiny-t5xxl.safetensors"
expect_failure "t5 with the CLIP model" "not a T5 encoder" \
    t5 --golden "$golden/t5.safetensors" --model "$models/tiny-clip-l.safetensors"
expect_failure "clip on the T5 golden file" "tensor 'encoder_output'" \
    clip --golden "$golden/t5.safetensors" --model "$models/tiny-clip-l.safetensors"
expect_failure "t5 on the RNG golden file" "not a T5 output" \
    t5 --golden "$golden/rng.safetensors" --model "$models/tiny-t5xxl.safetensors"
expect_failure "t5 with a missing model file" "$tmp/none.safetensors" \
    t5 --golden "$golden/t5.safetensors" --model "$tmp/none.safetensors"

finish
