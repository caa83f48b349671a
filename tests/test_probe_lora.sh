#!/usr/bin/env bash
# `fluxgraph probe lora`: for every fixture LoRA at strengths 0.8 / 0.6, the patched weights,
# c0_out_lora and the not-loaded keys match ComfyUI's (checked by test_lora --compare-probe);
# bad requests fail cleanly (exit 1, a message naming the problem, no output file).
# Usage: tests/test_probe_lora.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
dir=tests/fixtures/lora
models=tests/fixtures/models
. tests/shell_lib.sh

base=(--model "$models/diffusion_models/tiny-flux.safetensors" --clip-l "$models/text_encoders/tiny-clip-l.safetensors"
      --t5 "$models/text_encoders/tiny-t5xxl.safetensors")
for name in kohya_r8 diffusers_r4 comfy_native xlabs xlabs_uso lokr loha diff dora; do
    out="$tmp/$name.safetensors"
    "$fg" probe lora --golden "$dir/expected/$name.safetensors" --lora "$dir/$name.safetensors" "${base[@]}" \
        --strength-model 0.8 --strength-clip 0.6 --out "$out" >"$tmp/log" 2>&1
    rc=$?
    [ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
    [ $rc = 0 ] && { "$build/tests/test_lora" --compare-probe "$dir/expected/$name.safetensors" "$out" >"$tmp/cmp.log" 2>&1; rc=$?; }
    [ $rc = 0 ] || grep -E 'FAIL|max abs' "$tmp/cmp.log" | sed 's/^/    /'
    check "probe lora $name matches ComfyUI (weights <= 1e-6, c0_out_lora <= 1e-4, not_loaded exact)" $rc
done

out="$tmp/out.safetensors"
expect_failure() { probe_expect_failure lora "$@"; } # NAME NEEDLE ARGS...
expect_failure "no --lora" "needs --lora" --golden "$dir/expected/kohya_r8.safetensors" "${base[@]}"
expect_failure "a strength that is not a number" "not a number" --golden "$dir/expected/kohya_r8.safetensors" \
    --lora "$dir/kohya_r8.safetensors" "${base[@]}" --strength-model abc
expect_failure "an option no component reads" "does not take --strenght-clip" \
    --golden "$dir/expected/kohya_r8.safetensors" --lora "$dir/kohya_r8.safetensors" "${base[@]}" --strenght-clip 1
expect_failure "c0_out_lora without the DiT" "weight of none of the given models" \
    --golden "$dir/expected/kohya_r8.safetensors" --lora "$dir/kohya_r8.safetensors" \
    --clip-l "$models/text_encoders/tiny-clip-l.safetensors"

finish
