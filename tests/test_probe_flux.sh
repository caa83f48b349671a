#!/usr/bin/env bash
# `fluxgraph probe flux`: the tiny DiT reproduces every tensor of the golden FLUX file within the
# fixture tolerances (checked by test_flux --compare-probe), and bad requests fail cleanly
# (exit 1, a message naming the problem, no output file).
# Usage: tests/test_probe_flux.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
golden=tests/fixtures/golden/flux.safetensors
model=tests/fixtures/models/diffusion_models/tiny-flux.safetensors
. tests/shell_lib.sh

out="$tmp/out.safetensors"
expect_failure() { probe_expect_failure flux "$@"; } # NAME NEEDLE ARGS...

"$fg" probe flux --golden "$golden" --model "$model" --out "$tmp/flux.safetensors" >"$tmp/log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
check "probe flux on the golden file exits 0" $rc
"$build/tests/test_flux" --compare-probe "$tmp/flux.safetensors" >"$tmp/cmp.log" 2>&1
rc=$?
grep -E '^(  c[0-9]|FAIL|  tests)' "$tmp/cmp.log" | sed 's/^/  /'
check "probe flux output matches golden (out <= 1e-4, intermediates <= 5e-5)" $rc

expect_failure "no --model" "needs --model" --golden "$golden"
expect_failure "model without a DiT" "no FLUX DiT" --golden "$golden" \
    --model tests/fixtures/models/vae/tiny-ae.safetensors
expect_failure "golden of another component" "not something the FLUX forward produces" \
    --golden tests/fixtures/golden/rng.safetensors --model "$model"

finish
