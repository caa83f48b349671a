#!/usr/bin/env bash
# LoRA workflows end to end on the tiny models: two stacked LoraLoaders run via `fluxgraph run`;
# changing a strength between jobs of one --prompts batch gives the same images as separate
# runs; strength 0 gives the image without LoRA; unmapped keys are warned about by name, and
# --strict-lora makes them an error; a LoRA of which nothing maps fails naming its model.
# Usage: tests/test_lora_e2e.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
. tests/shell_lib.sh

models="$tmp/models"
mkdir -p "$models/loras/sub"
for d in diffusion_models text_encoders vae; do ln -s "$PWD/tests/fixtures/models/$d" "$models/$d"; done
cp tests/fixtures/lora/kohya_r8.safetensors tests/fixtures/lora/diffusers_r4.safetensors "$models/loras/"
cp tests/fixtures/lora/xlabs.safetensors "$models/loras/sub/"

wf="$tmp/lora.json"
cat >"$wf" <<'JSON'
{"10": {"class_type": "VAELoader", "inputs": {"vae_name": "tiny-ae.safetensors"}},
 "11": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "tiny-t5xxl.safetensors",
        "clip_name2": "tiny-clip-l.safetensors", "type": "flux"}},
 "12": {"class_type": "UNETLoader", "inputs": {"unet_name": "tiny-flux.safetensors", "weight_dtype": "default"}},
 "40": {"class_type": "LoraLoader", "inputs": {"model": ["12", 0], "clip": ["11", 0],
        "lora_name": "diffusers_r4.safetensors", "strength_model": 0.8, "strength_clip": 0.6}},
 "41": {"class_type": "LoraLoader", "inputs": {"model": ["40", 0], "clip": ["40", 1],
        "lora_name": "kohya_r8.safetensors", "strength_model": 0.7, "strength_clip": 0.5}},
 "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["41", 1]}},
 "33": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["41", 1]}},
 "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
 "31": {"class_type": "KSampler", "inputs": {"seed": 42, "steps": 2, "cfg": 1.0, "sampler_name": "euler",
        "scheduler": "simple", "denoise": 1.0, "model": ["41", 0], "positive": ["6", 0], "negative": ["33", 0],
        "latent_image": ["27", 0]}},
 "8": {"class_type": "VAEDecode", "inputs": {"samples": ["31", 0], "vae": ["10", 0]}},
 "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "lora", "images": ["8", 0]}}}
JSON

run() { # OUTDIR ARGS...
    local out=$1; shift
    "$fg" run "$wf" --models "$models" --output "$out" --no-metadata "$@" >"$tmp/out.log" 2>"$tmp/err.log"
}
same() { cmp -s "$1" "$2"; }

run "$tmp/o1"; rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/err.log"
check "two stacked LoraLoaders run end to end" $rc
grep -q "kohya_r8.safetensors: 3 keys not loaded: .*lora_unet_double_blocks_2_img_attn_qkv.alpha" "$tmp/err.log"
check "unmapped keys are warned about, naming the file and the keys" $?

run "$tmp/o0" --set 40.strength_model=0 --set 40.strength_clip=0 --set 41.strength_model=0 --set 41.strength_clip=0
rc=$?
sed -e 's/\["41", 0\]/["12", 0]/g' -e 's/\["41", 1\]/["11", 0]/g' "$wf" >"$tmp/nolora.json"
"$fg" run "$tmp/nolora.json" --models "$models" --output "$tmp/base" --no-metadata >/dev/null 2>&1
[ $rc = 0 ] && [ -f "$tmp/base/lora_00001_.png" ] && same "$tmp/o0/lora_00001_.png" "$tmp/base/lora_00001_.png"
check "strength 0 everywhere gives the image without LoRA" $?
! same "$tmp/o0/lora_00001_.png" "$tmp/o1/lora_00001_.png"
check "the LoRAs change the image" $?

# one batch with two strengths == two separate runs
printf '{"41.strength_model": 0.3}\n{"41.strength_model": -0.9, "40.strength_clip": 0.1}\n' >"$tmp/jobs"
run "$tmp/batch" --prompts "$tmp/jobs"; rc=$?
run "$tmp/s1" --set 41.strength_model=0.3
run "$tmp/s2" --set 41.strength_model=-0.9 --set 40.strength_clip=0.1
[ $rc = 0 ] && same "$tmp/batch/lora_00001_.png" "$tmp/s1/lora_00001_.png" &&
    same "$tmp/batch/lora_00002_.png" "$tmp/s2/lora_00001_.png" &&
    ! same "$tmp/batch/lora_00001_.png" "$tmp/batch/lora_00002_.png"
check "changing strengths between jobs of one batch gives the images of separate runs" $?

run "$tmp/strict" --strict-lora; rc=$?
[ $rc = 3 ] && grep -q "strict-lora" "$tmp/err.log" && grep -q "lora_unet_double_blocks_2_img_attn_qkv.lora_down.weight" "$tmp/err.log" &&
    [ ! -e "$tmp/strict/lora_00001_.png" ]
check "--strict-lora: the unmapped keys of kohya_r8 are an error naming them" $?

run "$tmp/strict2" --strict-lora --set 41.lora_name=diffusers_r4.safetensors; rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/err.log"
check "--strict-lora accepts LoRAs whose keys all map" $rc

run "$tmp/xl" --set 41.lora_name=sub/xlabs.safetensors; rc=$?
[ $rc = 3 ] && grep -q "none of its 16 keys" "$tmp/err.log" && grep -q "XLabs" "$tmp/err.log"
check "a LoRA of which nothing maps fails, naming the model it was made for" $?

run "$tmp/missing" --set 41.lora_name=nope.safetensors; rc=$?
[ $rc = 2 ] || [ $rc = 3 ]
check "an unknown lora_name fails cleanly" $?

"$fg" info "$models/loras/kohya_r8.safetensors" >"$tmp/info" 2>&1 && grep -q "LoRA format:  kohya" "$tmp/info" &&
    grep -q "made for:     FLUX" "$tmp/info" && grep -q "lora_unet_img_in  lora rank 8 alpha 4" "$tmp/info"
check "fluxgraph info names a LoRA's format, model, layers, rank and alpha" $?
"$fg" info --json "$models/loras/diffusers_r4.safetensors" 2>&1 | grep -q '"lora": {"format": "diffusers/PEFT, LoRA"'
check "fluxgraph info --json describes a LoRA" $?

# A batch that switches between the base DiT and a fine-tuned one (same layout, other weights,
# here a tiny DiT written by mkmodel with another seed), LoRAs applied to
# each: every job equals its separate run; under `make asan` this also checks nothing leaks.
ft="$tmp/models_ft"
mkdir -p "$ft/diffusion_models/finetunes"
for d in text_encoders vae loras; do ln -s "$models/$d" "$ft/$d"; done
cp tests/fixtures/models/diffusion_models/tiny-flux.safetensors "$ft/diffusion_models/" # a file link leaving the folder is refused
"$fg" mkmodel --preset tiny --seed 7 "$tmp/mk" >/dev/null 2>&1 &&
    cp "$tmp/mk/diffusion_models/tiny-flux.safetensors" "$ft/diffusion_models/finetunes/my-flux.safetensors"
check "mkmodel writes a second tiny DiT to stand in for a fine-tune" $?
printf '{"12.unet_name": "finetunes/my-flux.safetensors"}\n{"12.unet_name": "tiny-flux.safetensors"}\n{"12.unet_name": "finetunes/my-flux.safetensors", "41.strength_model": 0.2}\n' >"$tmp/switch"
"$fg" run "$wf" --models "$ft" --output "$tmp/sw" --no-metadata --prompts "$tmp/switch" >/dev/null 2>"$tmp/err.log"; rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/err.log"
"$fg" run "$wf" --models "$ft" --output "$tmp/sw1" --no-metadata --set 12.unet_name=finetunes/my-flux.safetensors >/dev/null 2>&1
"$fg" run "$wf" --models "$ft" --output "$tmp/sw2" --no-metadata >/dev/null 2>&1
"$fg" run "$wf" --models "$ft" --output "$tmp/sw3" --no-metadata --set 12.unet_name=finetunes/my-flux.safetensors \
    --set 41.strength_model=0.2 >/dev/null 2>&1
[ $rc = 0 ] && same "$tmp/sw/lora_00001_.png" "$tmp/sw1/lora_00001_.png" &&
    same "$tmp/sw/lora_00002_.png" "$tmp/sw2/lora_00001_.png" && same "$tmp/sw/lora_00003_.png" "$tmp/sw3/lora_00001_.png" &&
    ! same "$tmp/sw/lora_00001_.png" "$tmp/sw/lora_00002_.png" && same "$tmp/sw2/lora_00001_.png" "$tmp/o1/lora_00001_.png"
check "one batch switching base and fine-tuned DiTs (with LoRAs) gives the images of separate runs" $?

finish
