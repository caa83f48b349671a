#!/usr/bin/env bash
# `fluxgraph probe ae`: the tiny autoencoder reproduces the golden stage 6 within the fixture
# tolerances (checked by test_vae --compare-probe), also from an all-in-one checkpoint, and bad
# inputs fail cleanly: exit 1, a message naming the problem, no output file.
# Usage: tests/test_probe_ae.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
golden=tests/fixtures/golden/ae.safetensors
model=tests/fixtures/models/vae/tiny-ae.safetensors
. tests/shell_lib.sh

out="$tmp/out.safetensors"
expect_failure() { probe_expect_failure ae "$@"; } # NAME NEEDLE ARGS...

# --- the real thing -------------------------------------------------------------------------
"$fg" probe ae --golden "$golden" --model "$model" --out "$tmp/ae.safetensors" >"$tmp/log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
check "probe ae on the golden file exits 0" $rc
"$build/tests/test_vae" --compare-probe "$tmp/ae.safetensors" >"$tmp/cmp.log" 2>&1
rc=$?
grep -E '^(  probe|FAIL|  tests)' "$tmp/cmp.log" | sed 's/^/  /'
check "probe ae output within the stage 6 tolerances" $rc

# The same VAE inside an all-in-one checkpoint (keys under "vae.", other models beside it).
"$build/tests/test_vae" --write-checkpoint "$model" "$tmp/ckpt.safetensors" >/dev/null 2>&1 &&
    "$fg" probe ae --golden "$golden" --model "$tmp/ckpt.safetensors" --out "$tmp/ckpt_out.safetensors" >/dev/null 2>&1 &&
    cmp -s "$tmp/ae.safetensors" "$tmp/ckpt_out.safetensors"
check "an all-in-one checkpoint (vae. prefix) gives identical output" $?

# --- bad requests -----------------------------------------------------------------------------
expect_failure "no --model" "needs --model" --golden "$golden"
expect_failure "model file does not exist" "$tmp/none.safetensors" --golden "$golden" --model "$tmp/none.safetensors"
expect_failure "model of another kind" "missing tensor 'encoder.conv_in.weight'" \
    --golden "$golden" --model tests/fixtures/models/diffusion_models/tiny-flux.safetensors
expect_failure "golden of another component" "not something the ae probe produces" \
    --golden tests/fixtures/golden/rng.safetensors --model "$model"

finish
