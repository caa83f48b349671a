#!/usr/bin/env bash
# `fluxgraph probe`: the rng component reproduces the golden file bit for bit (checked by
# test_rng --compare-probe), and every bad input fails cleanly: exit 1 (2 for usage), a message,
# no crash and no output file.
# Usage: tests/test_probe.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
golden=tests/fixtures/golden/rng.safetensors
. tests/shell_lib.sh

# A safetensors file from a header and a data size (zero bytes).
# Runs the probe expecting failure: exit code $2, message containing $3, no output left behind.
out="$tmp/out.safetensors"
expect_failure() { # NAME EXIT NEEDLE ARGS...
    local name=$1 want=$2 needle=$3; shift 3
    rm -f "$out" "$out.tmp"
    "$fg" probe "$@" >"$tmp/log" 2>&1
    local rc=$?
    local ok=0
    [ $rc = "$want" ] || { echo "  exit $rc, expected $want"; ok=1; }
    grep -q -- "$needle" "$tmp/log" || { echo "  message lacks '$needle':"; sed 's/^/    /' "$tmp/log"; ok=1; }
    if [ -e "$out" ] || [ -e "$out.tmp" ]; then echo "  output file left behind"; ok=1; fi
    check "$name" $ok
}

# --- the real thing -------------------------------------------------------------------------
"$fg" --noise-compat avx2 probe rng --golden "$golden" --out "$tmp/rng.safetensors" >"$tmp/log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
check "probe rng on the golden file exits 0" $rc
"$build/tests/test_rng" --compare-probe "$tmp/rng.safetensors" >"$tmp/cmp.log" 2>&1
rc=$?
grep -E '^(  probe|FAIL|  tests)' "$tmp/cmp.log" | sed 's/^/  /'
check "probe rng output equals golden bit for bit" $rc

"$fg" --noise-compat avx2 probe rng --golden "$golden" --out "$tmp/rng2.safetensors" --model /nonexistent.safetensors \
    >/dev/null 2>&1 &&
    cmp -s "$tmp/rng.safetensors" "$tmp/rng2.safetensors"
check "--model is accepted and unused by rng" $?

# --- the other torch kernel: --noise-compat default / FLUXGRAPH_NOISE_COMPAT --------------------
default_golden=tests/fixtures/golden/rng_default.safetensors
"$fg" --noise-compat default probe rng --golden "$default_golden" --out "$tmp/rngd.safetensors" >"$tmp/log" 2>&1 &&
    "$build/tests/test_rng" --compare-probe "$tmp/rngd.safetensors" --golden golden/rng_default.safetensors \
        >"$tmp/cmp.log" 2>&1
rc=$?
[ $rc = 0 ] || grep -E 'FAIL|error' "$tmp/log" "$tmp/cmp.log" | head -5 | sed 's/^/    /'
check "--noise-compat default reproduces torch's generic kernel bit for bit" $rc
FLUXGRAPH_NOISE_COMPAT=default "$fg" probe rng --golden "$default_golden" --out "$tmp/rngd2.safetensors" \
    >/dev/null 2>&1 && cmp -s "$tmp/rngd.safetensors" "$tmp/rngd2.safetensors"
check "FLUXGRAPH_NOISE_COMPAT=default does the same" $?
FLUXGRAPH_NOISE_COMPAT=default "$fg" --noise-compat avx2 probe rng --golden "$default_golden" \
    --out "$tmp/rngd3.safetensors" >/dev/null 2>&1 && ! cmp -s "$tmp/rngd.safetensors" "$tmp/rngd3.safetensors"
check "--noise-compat wins over FLUXGRAPH_NOISE_COMPAT (and the kernels differ)" $?
"$fg" --noise-compat avx512 version >"$tmp/log" 2>&1
rc=$?
[ $rc = 2 ] && grep -q "must be auto, avx2 or default, not 'avx512'" "$tmp/log"
check "--noise-compat with an unknown kernel: exit 2 and a message" $?
FLUXGRAPH_NOISE_COMPAT=neon "$fg" version >"$tmp/log" 2>&1
rc=$?
[ $rc = 2 ] && grep -q "FLUXGRAPH_NOISE_COMPAT) must be auto, avx2 or default, not 'neon'" "$tmp/log"
check "FLUXGRAPH_NOISE_COMPAT with an unknown kernel: exit 2 and a message" $?
"$fg" --noise-compat auto version | grep -q "^noise: torch's .* randn kernel"
check "version reports the noise kernel" $?

# --- bad requests -----------------------------------------------------------------------------
expect_failure "unknown component" 1 "unknown component 'nosuch'" \
    nosuch --golden "$golden" --out "$out"
expect_failure "missing --out" 2 "usage" rng --golden "$golden"
expect_failure "missing --golden value" 2 "needs a value" rng --out "$out" --golden
expect_failure "golden file does not exist" 1 "cannot open\|No such file" \
    rng --golden "$tmp/none.safetensors" --out "$out"
expect_failure "output directory does not exist" 1 "$tmp/no/dir" \
    rng --golden "$golden" --out "$tmp/no/dir/out.safetensors"
expect_failure "golden of another component" 1 "no metadata entry" \
    rng --golden tests/fixtures/golden/clip.safetensors --out "$out"

head -c 1000 "$golden" >"$tmp/truncated.safetensors"
expect_failure "truncated golden file" 1 "truncated.safetensors" \
    rng --golden "$tmp/truncated.safetensors" --out "$out"
printf 'not a safetensors file at all' >"$tmp/garbage.safetensors"
expect_failure "garbage golden file" 1 "garbage.safetensors" \
    rng --golden "$tmp/garbage.safetensors" --out "$out"

# Hostile per-tensor metadata: each names the tensor and what is wrong.
t='"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'
bad_meta() { # NAME NEEDLE METADATA-VALUE-JSON-ESCAPED
    make_st "$tmp/meta.safetensors" "{$t,\"__metadata__\":{\"t\":\"$3\"}}" 8
    expect_failure "$1" 1 "$2" rng --golden "$tmp/meta.safetensors" --out "$out"
}
bad_meta "seed not a number" "not a decimal integer" '{\"seed\": \"4x2\", \"shape\": [2]}'
bad_meta "seed over 2^64-1" "does not fit in 64 bits" '{\"seed\": \"18446744073709551616\", \"shape\": [2]}'
bad_meta "seed not a string" "is not a string" '{\"seed\": 42, \"shape\": [2]}'
bad_meta "seed missing" "no \\\"seed\\\"" '{\"shape\": [2]}'
bad_meta "metadata not JSON" "not valid JSON" '{\"seed\": \"42\", \"shape\": [2'
bad_meta "shape disagrees with the tensor" "metadata shape \[1000000000000\] but tensor shape \[2\]" '{\"seed\": \"42\", \"shape\": [1000000000000]}'
bad_meta "negative dim" "non-negative integers" '{\"seed\": \"42\", \"shape\": [-2]}'
bad_meta "too many dims" "at most 5 dims" '{\"seed\": \"42\", \"shape\": [1,1,1,1,1,2]}'
make_st "$tmp/i32.safetensors" '{"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"t":"{\"seed\": \"1\", \"shape\": [2]}"}}' 8
expect_failure "non-F32 golden tensor" 1 "dtype I32" rng --golden "$tmp/i32.safetensors" --out "$out"
make_st "$tmp/empty.safetensors" '{"__metadata__":{"a":"b"}}' 0
expect_failure "golden without tensors" 1 "no tensors" rng --golden "$tmp/empty.safetensors" --out "$out"

# A valid hand-made file: the probe follows the metadata, not the tensor names.
make_st "$tmp/own.safetensors" '{"mine":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]},"__metadata__":{"mine":"{\"seed\": \"42\", \"shape\": [4, 4]}"}}' 64
# Seed 42 with 16 values is golden s2_x2; the output's data section is its last 64 bytes.
hlen=$(od -An -t u8 -N 8 "$golden" | tr -d ' ')
off=$(grep -a -o '"s2_x2":{[^}]*}' <(head -c $((hlen + 8)) "$golden") | grep -o 'data_offsets":\[[0-9]*' | grep -o '[0-9]*$')
"$fg" probe rng --golden "$tmp/own.safetensors" --out "$tmp/own_out.safetensors" >/dev/null 2>&1 &&
    [ -n "$off" ] &&
    cmp -s <(tail -c 64 "$tmp/own_out.safetensors") <(tail -c +$((8 + hlen + off + 1)) "$golden" | head -c 64)
check "any tensor with seed and shape metadata is produced (4x4 seed 42 = golden s2_x2)" $?

finish
