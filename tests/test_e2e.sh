#!/bin/bash
# End to end through `fluxgraph run`: the tiny txt2img workflows (API and a hand-written UI
# copy) reproduce golden/sampler's image, a saved PNG regenerates itself, --seed and cfg
# change what they should, a hires fix through bislerp latent upscales runs, Ctrl-C stops
# after the current step without an image, the shipped workflows validate and convert, and
# `make demo` (tools/demo.sh) makes an image.
# $1 = build dir.
build=${1:-build}
# The golden comparisons are the CPU's F32 path: pinned, since `run` defaults to cuda on a GPU.
FG="$build/fluxgraph --device cpu"
gpu=0
$build/fluxgraph --device cuda version >/dev/null 2>&1 && gpu=1
CMP=$build/tests/test_e2e
. tests/shell_lib.sh
M="--models tests/fixtures/models"
W=tests/fixtures/workflows

for s in euler euler_ancestral dpmpp_2m; do
    f=$W/tiny_txt2img.api.json
    [ $s = euler ] || f=$W/tiny_txt2img_$s.api.json
    $FG run $f $M --output $tmp/$s >$tmp/out 2>$tmp/err
    check "run $s exit 0" $?
    png=$(head -n 1 $tmp/out)
    [ -f "$png" ]; check "run $s prints the image path" $?
    $CMP --compare-png "$png" $s; check "$s image matches golden/sampler" $?
done
grep -q 'KSampler: 4/4' $tmp/err; check "progress reaches 4/4" $?

$FG run $W/tiny_txt2img.ui.json $M --output $tmp/ui >/dev/null 2>&1; check "UI workflow exit 0" $?
$CMP --same-pixels $tmp/ui/tiny_00001_.png $tmp/euler/tiny_00001_.png; check "UI workflow: same image" $?
$CMP --compare-png $tmp/ui/tiny_00001_.png euler >/dev/null; check "UI workflow: golden image" $?
$FG convert $tmp/ui/tiny_00001_.png 2>/dev/null | grep -q '"seed": 42'; check "UI run embeds the prompt" $?

$FG run $tmp/euler/tiny_00001_.png $M --output $tmp/again >/dev/null 2>&1; check "PNG run again exit 0" $?
$CMP --same-pixels $tmp/again/tiny_00001_.png $tmp/euler/tiny_00001_.png; check "PNG regenerates itself" $?
$FG run $tmp/ui/tiny_00001_.png $M --output $tmp/again_ui >/dev/null 2>&1
$CMP --same-pixels $tmp/again_ui/tiny_00001_.png $tmp/euler/tiny_00001_.png; check "UI-made PNG regenerates itself" $?

$FG run $W/tiny_txt2img.api.json $M --output $tmp/seed --seed 7 >/dev/null 2>&1; check "--seed exit 0" $?
! $CMP --same-pixels $tmp/seed/tiny_00001_.png $tmp/euler/tiny_00001_.png; check "--seed changes the image" $?
$FG run $W/tiny_txt2img.api.json $M --output $tmp/cfg --set 31.cfg=2.5 >/dev/null 2>&1; check "cfg 2.5 with the empty negative exit 0" $?
! $CMP --same-pixels $tmp/cfg/tiny_00001_.png $tmp/euler/tiny_00001_.png; check "cfg 2.5 changes the image" $?
$FG run $W/tiny_txt2img.api.json $M --output $tmp/adv --set 31.denoise=0.5 >/dev/null 2>&1; check "denoise 0.5 exit 0" $?

# Hires fix through bislerp: LatentUpscale (96x80, center crop) then LatentUpscaleBy 1.25 take
# the 8x8 latent to 12x10 and 15x12 before a second KSampler: a 120x96 image (PNG IHDR size).
$FG run $W/tiny_hires_bislerp.api.json $M --output $tmp/bislerp >/dev/null 2>$tmp/berr; check "bislerp hires run exit 0" $?
grep -q 'node 41 (LatentUpscaleBy)' $tmp/berr && grep -q 'KSampler: 2/2' $tmp/berr; check "bislerp hires ran both upscales" $?
[ "$(od -An -tu1 -j16 -N8 $tmp/bislerp/tiny_bislerp_00001_.png 2>/dev/null | tr -s ' ')" = " 0 0 0 120 0 0 0 96" ]
check "bislerp hires image is 120x96" $?

# BF16 weights and activations (the GPU's numerics): on the CPU always, and on CUDA too when
# this machine has a GPU (the GPU e2e test); uploads are logged. A BF16 model receives guidance
# 3.5 cast to bf16, 3.504 (ComfyUI's cast to the compute dtype, comfy/model_base.py), so each
# image must be close to the F32 run of the same workflow with guidance 3.504, and the F32 run at
# 3.5 (the golden) must be far from it.
for s in euler euler_ancestral dpmpp_2m; do
    f=$W/tiny_txt2img.api.json
    [ $s = euler ] || f=$W/tiny_txt2img_$s.api.json
    $FG run $f $M --set 35.guidance=3.504 --output $tmp/g3504_$s >/dev/null 2>&1; check "f32 run $s at guidance 3.504" $?
done
bf16_runs() {
    local dev=$1 s f
    for s in euler euler_ancestral dpmpp_2m; do
        f=$W/tiny_txt2img.api.json
        [ $s = euler ] || f=$W/tiny_txt2img_$s.api.json
        FLUXGRAPH_LOG=info $FG --device $dev --activations bf16 run $f $M --output $tmp/bf16_${dev}_$s >/dev/null \
            2>$tmp/bf16_err
        check "bf16 $dev run $s exit 0" $?
        $CMP --compare-pngs-bf16 $tmp/bf16_${dev}_$s/tiny_00001_.png $tmp/g3504_$s/tiny_00001_.png
        check "bf16 $dev $s image close to the f32 one at the bf16 guidance" $?
        ! $CMP --compare-png-bf16 $tmp/bf16_${dev}_$s/tiny_00001_.png $s >/dev/null
        check "bf16 $dev $s image: guidance cast to bf16 (far from the f32 golden at 3.5)" $?
    done
    grep -q "FLUX DiT: .* GB to $dev as BF16 in .* GB/s" $tmp/bf16_err; check "bf16 $dev run logs the DiT upload" $?
    grep -q "T5-XXL: .* GB to $dev as BF16" $tmp/bf16_err && grep -q "VAE: .* GB to $dev as BF16" $tmp/bf16_err
    check "bf16 $dev run logs the text encoder and VAE uploads" $?
}
bf16_runs cpu
[ $gpu = 1 ] && bf16_runs cuda
! $CMP --same-pixels $tmp/bf16_cpu_euler/tiny_00001_.png $tmp/euler/tiny_00001_.png; check "bf16 differs from f32" $?
! $CMP --compare-png-bf16 $tmp/seed/tiny_00001_.png euler >/dev/null; check "bf16 limits reject another image" $?
$FG --activations f32 run $W/tiny_txt2img.api.json $M --output $tmp/f32 >/dev/null 2>&1
$CMP --same-pixels $tmp/f32/tiny_00001_.png $tmp/euler/tiny_00001_.png; check "--activations f32 is the CPU default" $?
$FG --activations f16 run $W/tiny_txt2img.api.json $M >/dev/null 2>$tmp/aerr; [ $? = 2 ]; check "--activations f16: usage error" $?
grep -q 'must be f32 or bf16' $tmp/aerr; check "--activations error message" $?

# Ctrl-C (and SIGTERM, SIGHUP) during a long sampling run: stops after the current step, exit 3,
# no image and no .tmp file left behind
for sig in INT TERM HUP; do
    $FG run $W/tiny_txt2img.api.json $M --output $tmp/cancel_$sig --set 31.steps=10000 >/dev/null 2>$tmp/cerr &
    pid=$!
    for _ in $(seq 1 300); do grep -q 'KSampler: [1-9]' $tmp/cerr 2>/dev/null && break; sleep 0.1; done
    kill -$sig $pid
    wait $pid; rc=$?
    [ $rc = 3 ]; check "SIG$sig exit 3 (got $rc)" $?
    grep -q 'interrupted (Ctrl-C or signal).*cancelled after step [0-9]* of 10000.*no partial image' $tmp/cerr
    check "SIG$sig message" $?
    [ -z "$(find $tmp/cancel_$sig -type f 2>/dev/null)" ]; check "SIG$sig: no image, no .tmp" $?
done

# A model file truncated in place while a run uses it (the weights are read through a mapping,
# so the kernel sends SIGBUS): a message naming the file and exit 3, not death by signal.
mkdir -p $tmp/busm && cp -r tests/fixtures/models/. $tmp/busm/
$FG run $W/tiny_txt2img.api.json --models $tmp/busm --output $tmp/bus --set 31.steps=10000 >/dev/null 2>$tmp/berr &
pid=$!
for _ in $(seq 1 300); do grep -q 'KSampler: [0-9]' $tmp/berr 2>/dev/null && break; sleep 0.1; done
truncate -s 1000 $tmp/busm/diffusion_models/tiny-flux.safetensors
wait $pid; rc=$?
[ $rc = 3 ]; check "model truncated during a run: exit 3 (got $rc)" $?
grep -q "the model file $tmp/busm/diffusion_models/tiny-flux.safetensors changed while in use" $tmp/berr
check "model truncated during a run: the file is named" $?
[ -z "$(find $tmp/bus -type f 2>/dev/null)" ]; check "model truncated during a run: no image" $?

for f in workflows/tiny_txt2img.api.json workflows/flux_dev_txt2img.api.json workflows/flux_dev_txt2img.ui.json \
         workflows/flux_schnell_txt2img.api.json; do
    $FG validate $f >/dev/null 2>&1; check "validate $f" $?
done
$FG validate workflows/tiny_txt2img.api.json $M >/dev/null 2>&1; check "tiny workflow validates with the tiny models" $?
$FG convert workflows/flux_dev_txt2img.ui.json >$tmp/ui.json 2>/dev/null && $FG convert workflows/flux_dev_txt2img.api.json >$tmp/api.json 2>/dev/null
cmp -s $tmp/ui.json $tmp/api.json; check "flux_dev UI converts to the API file" $?
grep -q '"unet_name": "flux1-dev.safetensors"' $tmp/api.json && grep -q '"t5xxl_fp16.safetensors"' $tmp/api.json &&
    grep -q '"clip_l.safetensors"' $tmp/api.json && grep -q '"vae_name": "ae.safetensors"' $tmp/api.json
check "flux_dev model names" $?
$FG convert workflows/tiny_txt2img.api.json 2>/dev/null | cmp -s - <($FG convert $W/tiny_txt2img.api.json 2>/dev/null)
check "workflows/tiny_txt2img is the fixture" $?

TMPDIR=$tmp bash tools/demo.sh $build >$tmp/demo 2>&1; check "demo exit 0" $?
img=$(sed -n 's/^image: //p' $tmp/demo)
[ -n "$img" ] && [ -f "$img" ]; check "demo prints a real image" $?
# the demo runs with the default device: BF16 on a GPU
if [ $gpu = 1 ]; then
    [ -n "$img" ] && $CMP --compare-pngs-bf16 "$img" $tmp/g3504_euler/tiny_00001_.png >/dev/null
else
    [ -n "$img" ] && $CMP --compare-png "$img" euler >/dev/null
fi
check "demo image is the tiny txt2img generation" $?
finish
