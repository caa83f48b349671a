#!/usr/bin/env bash
# `fluxgraph bench` on the CPU with the tiny preset: the JSON record has every field, with
# values that agree with each other, with `mkmodel --list` (parameter counts) and with the
# issue's attention formula; bad options and sizes fail with a clear message and exit 2, failed
# runs exit 1 and leave no record behind.
# Usage: tests/test_bench.sh BUILD_DIR   (from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
source tests/shell_lib.sh

if [ ! -x "$fg" ]; then
    echo "FAIL $fg not built"
    echo "0 passed, 1 failed"
    exit 1
fi

# jget FILE SECTION KEY: the values of KEY inside the top-level object or array SECTION ("."
# for the top level) of a record written with 2-space indentation, one per line, in order.
jget() {
    awk -v sec="$2" -v key="$3" '
        /^  "[a-z_0-9]+": [{[]/ { match($0, /"[a-z_0-9]+"/); cur = substr($0, RSTART + 1, RLENGTH - 2); next }
        /^  [}\]]/ { cur = ""; next }
        {
            pat = "^ *\"" key "\": "
            if (!match($0, pat)) next
            v = substr($0, RLENGTH + 1); sub(/,$/, "", v); gsub(/^"|"$/, "", v)
            indent = match($0, /[^ ]/) - 1
            if ((sec == "." && indent == 2 && cur == "") || (sec != "." && cur == sec)) print v
        }' "$1"
}
# awk_true EXPR: exit 0 when the awk expression is true.
awk_true() { awk "BEGIN { exit !($1) }"; }
# near A B: |A - B| <= 1% of |B| (plus a tiny absolute slack for rounded outputs).
near() { awk_true "($1) - ($2) <= 0.01 * (($2) < 0 ? -($2) : ($2)) + 1e-9 && ($2) - ($1) <= 0.01 * (($2) < 0 ? -($2) : ($2)) + 1e-9"; }
# Parameter count of one tiny model from the manifest header `mkmodel --list` prints.
manifest_params() { "$fg" mkmodel --list --preset tiny | grep "^# manifest of $1:" | sed 's/.* tensors, \([0-9]*\) parameters.*/\1/'; }

# ---- a full run ---------------------------------------------------------------------------------
json="$tmp/bench.json"
"$fg" bench --device cpu --preset tiny --sizes 64,128 --steps 2 --warmup 1 --json "$json" >"$tmp/out" 2>"$tmp/err"
check "run: exit 0" $?
[ -s "$json" ] && [ ! -e "$json.tmp" ]; check "run: record written (no .tmp left)" $?
grep -q '^| 64x64 | 16 |' "$tmp/out" && grep -q '^| 128x128 | 64 |' "$tmp/out"; check "run: one table row per size" $?
grep -q '^peak: F32 GEMM' "$tmp/out" && grep -q '^T5: random tiny T5' "$tmp/out"; check "run: peak and T5 lines" $?

[ "$(jget "$json" . tool)" = "fluxgraph bench" ] && [ "$(jget "$json" . device)" = cpu ] &&
    [ "$(jget "$json" . preset)" = tiny ]; check "record: tool, device, preset" $?
[ "$(jget "$json" . version)" = "$("$fg" version | head -n 1 | awk '{print $2}')" ]; check "record: version" $?
machine=$(jget "$json" . machine)
"$fg" version | grep -qF -- "$machine" && [ -n "$machine" ]; check "record: machine is the CPU description" $?
[ "$(jget "$json" . batch)" = 1 ] && [ "$(jget "$json" . steps)" = 2 ] && [ "$(jget "$json" . warmup)" = 1 ] &&
    [ "$(jget "$json" . text_tokens)" = 512 ]; check "record: batch, steps, warmup, text tokens" $?

n=$(jget "$json" peak_gemm n); gemm_ms=$(jget "$json" peak_gemm ms); peak=$(jget "$json" peak_gemm tflops)
awk_true "$n > 0 && $gemm_ms > 0 && $peak > 0" && near "$peak" "2 * $n * $n * $n / ($gemm_ms * 1e-3) / 1e12" &&
    [ "$(jget "$json" peak_gemm dtype)" = F32 ]; check "peak GEMM: n, ms, TFLOP/s consistent" $?

[ "$(jget "$json" dit params)" = "$(manifest_params tiny-flux.safetensors)" ] &&
    [ "$(jget "$json" dit source)" = "random tiny FLUX" ] && [ "$(jget "$json" dit weights_dtype)" = BF16 ] &&
    [ "$(jget "$json" dit upload)" = null ] && [ "$(jget "$json" dit act_dtype)" = F32 ] && awk_true "$(jget "$json" dit load_seconds) >= 0" &&
    near "$(jget "$json" dit weights_gib)" "2 * $(jget "$json" dit params) / 1073741824"
check "DiT: parameters as mkmodel's tiny-flux, BF16 size, F32 activations on the CPU, no upload" $?
grep -q 'hidden 256, 2 heads x 128, 2 double + 2 single blocks' <<<"$(jget "$json" dit config)"
check "DiT: config description" $?
[ "$(jget "$json" t5 params)" = "$(manifest_params tiny-t5xxl.safetensors)" ] &&
    [ "$(jget "$json" t5 tokens)" = 512 ] && awk_true "$(jget "$json" t5 ms) > 0"
check "T5: parameters as mkmodel's tiny-t5xxl, time > 0" $?
[ "$(jget "$json" vae params)" = "$(manifest_params tiny-ae.safetensors)" ]; check "VAE: parameters as mkmodel's tiny-ae" $?

[ "$(jget "$json" sizes width | tr '\n' ' ')" = "64 128 " ] && [ "$(jget "$json" sizes height | tr '\n' ' ')" = "64 128 " ]
check "sizes: one entry per size, in order" $?
sizes_ok=0
for i in 1 2; do
    pick() { jget "$json" sizes "$1" | sed -n "${i}p"; }
    w=$(pick width); ms=$(pick ms_per_step); tf=$(pick tflop_per_step); lin=$(pick linear_tflop)
    att=$(pick attention_tflop); rate=$(pick tflops); pct=$(pick percent_of_peak)
    mem=$(pick peak_memory_gib); vae=$(pick vae_decode_ms); vmem=$(pick vae_peak_memory_gib)
    tokens=$(( (w / 16) * (w / 16) ))
    [ "$(pick image_tokens)" = "$tokens" ] || { echo "  size $w: image_tokens $(pick image_tokens) != $tokens"; sizes_ok=1; }
    # The issue's attention formula, 4 B H L^2 D per block, for the tiny model's 4 blocks of 2 heads x 128.
    near "$att" "4 * 4 * 2 * ($tokens + 512) ^ 2 * 128 / 1e12" || { echo "  size $w: attention $att"; sizes_ok=1; }
    awk_true "$ms > 0 && $lin > 0 && $vae > 0" || { echo "  size $w: ms $ms linear $lin vae $vae"; sizes_ok=1; }
    near "$tf" "$lin + $att" || { echo "  size $w: total $tf != $lin + $att"; sizes_ok=1; }
    near "$rate" "$tf / ($ms * 1e-3)" || { echo "  size $w: TFLOP/s $rate"; sizes_ok=1; }
    near "$pct" "100 * $rate / $peak" || { echo "  size $w: % of peak $pct"; sizes_ok=1; }
    for m in "$mem" "$vmem"; do
        [ "$m" = null ] || awk_true "$m > 0" || { echo "  size $w: memory $m"; sizes_ok=1; }
    done
done
check "sizes: tokens, FLOPs, rates and memory consistent" $sizes_ok
l1=$(jget "$json" sizes linear_tflop | sed -n 1p); l2=$(jget "$json" sizes linear_tflop | sed -n 2p)
awk_true "$l2 > $l1"; check "sizes: the larger image does more linear work" $?

# ---- variants -----------------------------------------------------------------------------------
"$fg" bench --device cpu --preset tiny --sizes 64 --steps 1 --warmup 0 --no-t5 --no-vae --json="$tmp/min.json" \
    >"$tmp/out" 2>&1
[ $? = 0 ] && [ "$(jget "$tmp/min.json" . t5)" = null ] && [ "$(jget "$tmp/min.json" . vae)" = null ] &&
    [ "$(jget "$tmp/min.json" sizes vae_decode_ms)" = null ] && grep -q '| skipped |' "$tmp/out"
check "--no-t5 --no-vae: null records, VAE column skipped" $?

model=tests/fixtures/models/diffusion_models/tiny-flux.safetensors
"$fg" bench --device cpu --preset tiny --model "$model" --sizes 32 --steps 1 --warmup 0 --no-t5 --no-vae \
    --json "$tmp/file.json" >"$tmp/out" 2>&1
[ $? = 0 ] && [ "$(jget "$tmp/file.json" dit source)" = "$model" ] &&
    [ "$(jget "$tmp/file.json" dit params)" = "$(manifest_params tiny-flux.safetensors)" ]
check "--model: the checkpoint's DiT is timed" $?

"$fg" bench --device cpu --preset tiny --sizes 32 --steps 1 --warmup 0 --no-t5 --no-vae --activations bf16 \
    --json "$tmp/bf16.json" >"$tmp/out" 2>&1
[ $? = 0 ] && [ "$(jget "$tmp/bf16.json" dit act_dtype)" = BF16 ] && [ "$(jget "$tmp/bf16.json" peak_gemm dtype)" = BF16 ]
check "--activations bf16: BF16 DiT activations and GEMM on the CPU" $?
"$fg" --device cpu --activations bf16 bench --preset tiny --sizes 32 --steps 1 --warmup 0 --no-t5 --no-vae \
    --json "$tmp/global.json" >"$tmp/out" 2>&1
[ $? = 0 ] && [ "$(jget "$tmp/global.json" dit act_dtype)" = BF16 ]; check "global --activations bf16 applies to bench" $?

"$fg" bench --help >"$tmp/out" 2>&1
[ $? = 0 ] && grep -q 'usage: fluxgraph bench' "$tmp/out"; check "--help: usage, exit 0" $?

# ---- errors -------------------------------------------------------------------------------------
expect() { # NAME EXIT NEEDLE ARGS...: bench fails with EXIT and a message containing NEEDLE
    local name=$1 want=$2 needle=$3; shift 3
    rm -f "$tmp/bad.json" "$tmp/bad.json.tmp"
    "$fg" bench --device cpu --preset tiny --steps 1 --warmup 0 --no-t5 --no-vae --sizes 32 "$@" >"$tmp/log" 2>&1
    local rc=$? ok=0
    [ $rc = "$want" ] || { echo "  exit $rc, expected $want"; ok=1; }
    grep -qF -- "$needle" "$tmp/log" || { echo "  message lacks '$needle':"; sed 's/^/    /' "$tmp/log"; ok=1; }
    if [ -e "$tmp/bad.json" ] || [ -e "$tmp/bad.json.tmp" ]; then echo "  record left behind"; ok=1; fi
    check "$name" $ok
}
expect "size not a multiple of 8" 2 "'100' is not an image size" --sizes 100 --json "$tmp/bad.json"
expect "size not a number" 2 "'x' is not an image size" --sizes 64,x
expect "size too small" 2 "'8' is not an image size" --sizes 8
expect "size too large" 2 "'16384' is not an image size" --sizes 16384
expect "empty size list" 2 "lists no size" --sizes ,
expect "too many sizes" 2 "at most 16 sizes" --sizes 16,16,16,16,16,16,16,16,16,16,16,16,16,16,16,16,16
expect "steps 0" 2 "--steps must be an integer from 1" --steps 0
expect "steps not a number" 2 "--steps must be an integer from 1 to 100000, not '2x'" --steps 2x
expect "negative warmup" 2 "--warmup must be an integer from 0" --warmup -1
expect "batch too large" 2 "--batch must be an integer from 1 to 64" --batch 65
expect "text tokens 0" 2 "--text-tokens must be an integer from 1" --text-tokens 0
expect "unknown preset" 2 "--preset must be dev, schnell or tiny, not 'huge'" --preset huge
expect "unknown device" 2 "--device must be cpu or cuda, not 'tpu'" --device tpu
expect "unknown activations" 2 "--activations must be f32 or bf16, not 'f16'" --activations f16
expect "unknown option" 2 "unknown argument '--frobnicate'" --frobnicate
expect "option without value" 2 "--json needs a file" --json
expect "missing model file" 1 "$tmp/none.safetensors" --model "$tmp/none.safetensors" --json "$tmp/bad.json"
expect "model without a DiT" 1 "holds no FLUX DiT" --model tests/fixtures/models/vae/tiny-ae.safetensors \
    --json "$tmp/bad.json"
expect "unwritable record" 1 "cannot write $tmp/no/such/dir/b.json.tmp" --json "$tmp/no/such/dir/b.json"

finish
