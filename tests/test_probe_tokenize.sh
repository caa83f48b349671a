#!/usr/bin/env bash
# `fluxgraph probe tokenize`: reproduces every tensor of the golden tokenizer file exactly
# (checked by test_tokenizers --compare-probe; the file agrees with transformers 4.x, so it runs
# with --tokenizer-compat transformers4, see tests/fixtures/README.md), and malformed golden
# files fail cleanly: exit 1, a message naming what is wrong, no output file. The real-library
# fixtures of both modes: tests/test_tokenizer_compat.sh.
# Usage: tests/test_probe_tokenize.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
golden=tests/fixtures/golden/tokenizers.safetensors
. tests/shell_lib.sh

# A safetensors file from a header and a data size (zero bytes).
out="$tmp/out.safetensors"
expect_failure() { # NAME NEEDLE GOLDEN
    rm -f "$out" "$out.tmp"
    "$fg" probe tokenize --golden "$3" --out "$out" >"$tmp/log" 2>&1
    local rc=$? ok=0
    [ $rc = 1 ] || { echo "  exit $rc, expected 1"; ok=1; }
    grep -q -- "$2" "$tmp/log" || { echo "  message lacks '$2':"; sed 's/^/    /' "$tmp/log"; ok=1; }
    if [ -e "$out" ] || [ -e "$out.tmp" ]; then echo "  output file left behind"; ok=1; fi
    check "$1" $ok
}

# --- the real thing -------------------------------------------------------------------------
"$fg" --tokenizer-compat transformers4 probe tokenize --golden "$golden" --out "$tmp/tok.safetensors" >"$tmp/log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
check "probe tokenize on the golden file exits 0" $rc
"$build/tests/test_tokenizers" --compare-probe "$tmp/tok.safetensors" >"$tmp/cmp.log" 2>&1
rc=$?
grep -E '^(  probe|FAIL)' "$tmp/cmp.log" | sed 's/^/  /'
check "probe tokenize output equals golden (186 tensors, exact)" $rc

# --- malformed golden files -------------------------------------------------------------------
t='"p0_clip_raw":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}'
make_st "$tmp/nocount.safetensors" "{$t,\"__metadata__\":{\"p0\":\"\\\"cat\\\"\"}}" 8
expect_failure "no prompt count" "count" "$tmp/nocount.safetensors"
make_st "$tmp/badcount.safetensors" "{$t,\"__metadata__\":{\"count\":\"1x\",\"p0\":\"\\\"cat\\\"\"}}" 8
expect_failure "count not a number" "not a decimal integer" "$tmp/badcount.safetensors"
make_st "$tmp/noprompt.safetensors" "{$t,\"__metadata__\":{\"count\":\"1\"}}" 8
expect_failure "prompt missing" "no metadata entry 'p0'" "$tmp/noprompt.safetensors"
make_st "$tmp/notstring.safetensors" "{$t,\"__metadata__\":{\"count\":\"1\",\"p0\":\"[1]\"}}" 8
expect_failure "prompt not a JSON string" "not a JSON string" "$tmp/notstring.safetensors"
make_st "$tmp/unknown.safetensors" "{\"p0_bogus\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"count\":\"1\",\"p0\":\"\\\"cat\\\"\"}}" 8
expect_failure "golden tensor the probe cannot produce" "tensor 'p0_bogus'" "$tmp/unknown.safetensors"
make_st "$tmp/outofrange.safetensors" "{\"p7_clip_ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"count\":\"1\",\"p0\":\"\\\"cat\\\"\"}}" 8
expect_failure "golden tensor of a prompt past count" "tensor 'p7_clip_ids'" "$tmp/outofrange.safetensors"

# A hand-made file with one NUL-holding prompt: the probe follows the metadata.
make_st "$tmp/own.safetensors" "{$t,\"__metadata__\":{\"count\":\"1\",\"p0\":\"\\\"a c\\\\u0000at (x:nan)\\\"\"}}" 8
"$fg" probe tokenize --golden "$tmp/own.safetensors" --out "$tmp/own_out.safetensors" >"$tmp/log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
check "prompt with a NUL byte and a nan weight is tokenized" $rc

finish
