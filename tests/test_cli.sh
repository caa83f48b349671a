#!/usr/bin/env bash
# CLI tests for `info` and `mkmodel`: generated layouts against the manifests of the real files
# and the tiny fixtures, detection of written models, the hostile corpus, usage errors.
# Usage: tests/test_cli.sh BUILD_DIR   (from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fluxgraph-cli-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

if [ ! -x "$fg" ]; then
    echo "FAIL $fg not built"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- mkmodel --list against the manifests of the real files --------------------------------
for pair in flux-dev:flux1-dev clip-l:clip_l t5xxl:t5xxl_fp16 ae:ae; do
    preset=${pair%%:*}
    manifest=tests/fixtures/manifests/${pair#*:}.txt
    "$fg" mkmodel --list --preset "$preset" >"$tmp/list.txt" 2>"$tmp/err.txt"
    check "list $preset: exit 0" [ $? = 0 ]
    check "list $preset: tensor lines equal the manifest, in order" \
        cmp -s <(grep -v '^#' "$tmp/list.txt") <(grep -v '^#' "$manifest")
    check "list $preset: header line equals the manifest's" \
        cmp -s <(grep '^#' "$tmp/list.txt") <(grep '^#' "$manifest")
done

"$fg" mkmodel --list --preset flux-schnell >"$tmp/schnell.txt"
check "list flux-schnell = flux-dev without guidance_in" \
    cmp -s <(grep -v '^#' "$tmp/schnell.txt") <(grep -v -e '^#' -e '^guidance_in\.' tests/fixtures/manifests/flux1-dev.txt)
check "list flux-schnell has 776 tensors" [ "$(grep -vc '^#' "$tmp/schnell.txt")" = 776 ]

# ---- tiny preset: layouts, files, detection --------------------------------------------------
"$fg" mkmodel --list --preset tiny >"$tmp/tiny-list.txt"
for f in tests/fixtures/models/*/*.safetensors; do "$fg" info --tensors "$f"; done >"$tmp/tiny-fixtures.txt"
check "list tiny equals the fixture files' layouts (names, dtypes, shapes, order)" \
    cmp -s "$tmp/tiny-list.txt" "$tmp/tiny-fixtures.txt"

"$fg" mkmodel --preset tiny --seed 3 "$tmp/models" 2>"$tmp/err.txt"
check "mkmodel tiny: exit 0" [ $? = 0 ]
tiny_files="diffusion_models/tiny-flux text_encoders/tiny-clip-l text_encoders/tiny-t5xxl vae/tiny-ae"
for rel in $tiny_files; do
    check "mkmodel tiny wrote $rel.safetensors" [ -f "$tmp/models/$rel.safetensors" ]
done
check "mkmodel tiny left no .tmp files" [ -z "$(find "$tmp/models" -name '*.tmp')" ]

for rel in $tiny_files; do "$fg" info --tensors "$tmp/models/$rel.safetensors"; done >"$tmp/tiny-written.txt"
check "written tiny files have the listed layouts" cmp -s "$tmp/tiny-list.txt" "$tmp/tiny-written.txt"

expect_kind() { # expect_kind FILE KIND
    local kind
    kind=$("$fg" info "$1" | sed -n 's/^kind: *//p')
    [ "$kind" = "$2" ] || { echo "  $1: kind '$kind', expected '$2'"; return 1; }
}
check "info: written tiny flux detected" expect_kind "$tmp/models/diffusion_models/tiny-flux.safetensors" \
    "flux (custom size: hidden 256, 2 double + 2 single blocks, 2 heads, context 64, vec 128, guidance)"
check "info: written tiny clip detected" expect_kind "$tmp/models/text_encoders/tiny-clip-l.safetensors" \
    "clip-l (custom size: hidden 128, 2 layers)"
check "info: written tiny t5 detected" expect_kind "$tmp/models/text_encoders/tiny-t5xxl.safetensors" \
    "t5-xxl (custom size: d_model 64, 2 layers)"
check "info: written tiny ae detected" expect_kind "$tmp/models/vae/tiny-ae.safetensors" \
    "flux autoencoder (custom size: ch 32, ch_mult 1,2,2,2, 1 res blocks)"

# Counts reported by info agree with the --list headers.
counts_match() { # counts_match FILE
    local base header tensors params
    base=$(basename "$1")
    header=$(grep "^# manifest of $base:" "$tmp/tiny-list.txt")
    tensors=$("$fg" info "$1" | sed -n 's/^tensors: *//p')
    params=$("$fg" info "$1" | sed -n 's/^parameters: *\([0-9]*\).*/\1/p')
    [ -n "$tensors" ] && [ -n "$params" ] && [[ "$header" == *": $tensors tensors, $params parameters;"* ]]
}
for rel in $tiny_files; do
    check "info counts of $rel match --list" counts_match "$tmp/models/$rel.safetensors"
done

"$fg" info --json "$tmp/models/vae/tiny-ae.safetensors" >"$tmp/ae.json"
check "info --json: kind, z_channels, metadata keys" grep -q \
    -e '"kind": "flux autoencoder (custom size: ch 32, ch_mult 1,2,2,2, 1 res blocks)".*"z_channels": 16.*"metadata_keys": \["fluxgraph_mkmodel", "seed"\]' \
    "$tmp/ae.json"
check "info: metadata keys listed" grep -q '^metadata: *2 keys: fluxgraph_mkmodel, seed' \
    <("$fg" info "$tmp/models/vae/tiny-ae.safetensors")

# Weights are a function of the seed.
"$fg" mkmodel --preset tiny --seed 3 "$tmp/again" 2>/dev/null
"$fg" mkmodel --preset tiny "$tmp/seed0" 2>/dev/null
check "same seed, same bytes" cmp -s "$tmp/models/vae/tiny-ae.safetensors" "$tmp/again/vae/tiny-ae.safetensors"
check "other seed, other bytes" bash -c "! cmp -s '$tmp/models/vae/tiny-ae.safetensors' '$tmp/seed0/vae/tiny-ae.safetensors'"

# ---- hostile files: one error line, exit 1, no crash -----------------------------------------
hostile_ok() { # hostile_ok FILE
    "$fg" info "$1" >"$tmp/h.out" 2>"$tmp/h.err"
    local rc=$?
    [ $rc = 1 ] || { echo "  $1: exit $rc"; return 1; }
    [ ! -s "$tmp/h.out" ] || { echo "  $1: wrote to stdout"; return 1; }
    [ "$(wc -l <"$tmp/h.err")" = 1 ] || { echo "  $1: $(wc -l <"$tmp/h.err") stderr lines"; return 1; }
    grep -q "^fluxgraph: error: $1: ." "$tmp/h.err" || { echo "  $1: $(cat "$tmp/h.err")"; return 1; }
}
if [ -d tests/hostile ]; then
    nhostile=0
    for f in tests/hostile/*.safetensors; do
        nhostile=$((nhostile + 1))
        check "info rejects $(basename "$f")" hostile_ok "$f"
    done
    check "hostile corpus is not empty" [ "$nhostile" -gt 0 ]
fi
check "info on a missing file: one error line" hostile_ok "$tmp/does-not-exist.safetensors"
printf 'not a model' >"$tmp/junk.safetensors"
check "info on junk: one error line" hostile_ok "$tmp/junk.safetensors"

# ---- usage and write errors -------------------------------------------------------------------
exit_code() { "$@" >"$tmp/u.out" 2>"$tmp/u.err"; echo $?; }
check "mkmodel unknown preset: exit 2 with usage" \
    bash -c "[ $(exit_code "$fg" mkmodel --preset nope "$tmp/x") = 2 ] && grep -q usage '$tmp/u.err'"
check "mkmodel unknown preset wrote nothing" [ ! -e "$tmp/x" ]
check "mkmodel without --preset: exit 2" [ "$(exit_code "$fg" mkmodel "$tmp/x")" = 2 ]
check "mkmodel without DIR: exit 2 with usage" \
    bash -c "[ $(exit_code "$fg" mkmodel --preset tiny) = 2 ] && grep -q usage '$tmp/u.err'"
check "mkmodel bad seed: exit 2" [ "$(exit_code "$fg" mkmodel --preset tiny --seed x1 "$tmp/x")" = 2 ]
check "info without FILE: exit 2 with usage" \
    bash -c "[ $(exit_code "$fg" info) = 2 ] && grep -q usage '$tmp/u.err'"
check "info with two files: exit 2" [ "$(exit_code "$fg" info a.safetensors b.safetensors)" = 2 ]

printf 'x' >"$tmp/plainfile"
check "mkmodel into a path below a file: exit 1" [ "$(exit_code "$fg" mkmodel --preset ae "$tmp/plainfile/sub")" = 1 ]
check "  ... with one clear error line" grep -q '^fluxgraph: error: .*plainfile' "$tmp/u.err"
mkdir -p "$tmp/ro/diffusion_models/tiny-flux.safetensors" # a directory where the file goes: rename fails
check "mkmodel whose target is a directory: exit 1" [ "$(exit_code "$fg" mkmodel --preset tiny "$tmp/ro")" = 1 ]
check "  ... leaves no partial file" [ -z "$(find "$tmp/ro" -type f)" ]

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
