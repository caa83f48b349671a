#!/bin/bash
# fluxgraph run: exit codes, --set / --seed / --prompt / --prompts / --batch-count, --json
# events, metadata and formats, no partial files, hostile workflows. $1 = build dir.
B=${1:-build}
FG=$B/fluxgraph
pass=0 fail=0
t() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL $1"; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p $tmp/in $tmp/m
$B/tests/test_executor --make-png $tmp/in/a.png 6 4 4 || echo "FAIL make-png"

# LoadImage -> ImageScale ("Scaler") -> SaveImage, plus nodes no output needs: a RandomNoise
# (seed) and a guider fed by a text encoder (so --seed / --prompt have something to change).
cat >$tmp/chain.json <<'JSON'
{"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
 "2": {"class_type": "ImageScale", "_meta": {"title": "Scaler"},
       "inputs": {"image": ["1", 0], "upscale_method": "bilinear", "width": 12, "height": 0, "crop": "disabled"}},
 "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "w_%width%"}},
 "5": {"class_type": "CLIPTextEncode", "inputs": {"text": "old", "clip": ["6", 0]}},
 "6": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5.safetensors", "clip_name2": "l.safetensors", "type": "flux"}},
 "7": {"class_type": "BasicGuider", "inputs": {"model": ["8", 0], "conditioning": ["5", 0]}},
 "8": {"class_type": "UNETLoader", "inputs": {"unet_name": "f.safetensors", "weight_dtype": "default"}},
 "9": {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}}}
JSON
run() { $FG run "$@" --input $tmp/in; }

o=$tmp/o1
run $tmp/chain.json --output $o >$tmp/out 2>$tmp/err; rc=$?
t "run exit 0" "[ $rc = 0 ]"
t "image written" "[ -f $o/w_12_00001_.png ]"
t "stdout names the image" "grep -qx '$o/w_12_00001_.png' $tmp/out"
t "time summary" "grep -q 'time per node' $tmp/err && grep -q 'ImageScale' $tmp/err"
t "unreachable nodes not run" "! grep -q 'RandomNoise\|UNETLoader' $tmp/err"
$FG convert $o/w_12_00001_.png >$tmp/p 2>/dev/null
t "PNG carries the prompt" "grep -q '\"noise_seed\": 5' $tmp/p && grep -q '\"class_type\": \"ImageScale\"' $tmp/p"

run $tmp/chain.json --output $o --set 2.width=24 >/dev/null 2>&1; t "--set by id exit 0" "[ $? = 0 ]"
t "--set by id" "[ -f $o/w_24_00001_.png ]"
run $tmp/chain.json --output $o --set Scaler.width=30 >/dev/null 2>&1; t "--set by title" "[ $? = 0 ] && [ -f $o/w_30_00001_.png ]"
run $tmp/chain.json --output $o --set Nope.width=30 >/dev/null 2>$tmp/err; t "--set unknown node exit 2" "[ $? = 2 ]"
t "--set unknown node message" "grep -q \"no node with id or title 'Nope'\" $tmp/err"
run $tmp/chain.json --output $o --set 2.width=abc >/dev/null 2>$tmp/err; t "--set bad INT exit 2" "[ $? = 2 ] && grep -q 'not an integer' $tmp/err"
run $tmp/chain.json --output $o --set 2.bogus=1 >/dev/null 2>$tmp/err; t "--set unknown input exit 2" "[ $? = 2 ] && grep -q \"has no input 'bogus'\" $tmp/err"
run $tmp/chain.json --output $o --set 2.width=-5 >/dev/null 2>$tmp/err; t "--set out of range is invalid (2)" "[ $? = 2 ]"

o=$tmp/o2
run $tmp/chain.json --output $o --seed 18446744073709551615 --prompt "a new prompt" >/dev/null 2>&1; t "--seed/--prompt exit 0" "[ $? = 0 ]"
$FG convert $o/w_12_00001_.png >$tmp/p 2>/dev/null
t "--seed sets noise_seed (u64)" "grep -q '\"noise_seed\": 18446744073709551615' $tmp/p"
t "--prompt sets the guider's text" "grep -q '\"text\": \"a new prompt\"' $tmp/p"
run $tmp/chain.json --output $o --seed x >/dev/null 2>&1; t "--seed bad exit 2" "[ $? = 2 ]"

# two encoders feed the positive side: --prompt must refuse and name them
sed -e 's/"conditioning": \["5", 0\]/"conditioning": ["10", 0]/' \
    -e 's/"9": {/"10": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["5", 0], "conditioning_2": ["11", 0]}},\n "11": {"class_type": "CLIPTextEncode", "inputs": {"text": "b", "clip": ["6", 0]}},\n "9": {/' \
    $tmp/chain.json >$tmp/amb.json
run $tmp/amb.json --output $tmp/o3 --prompt hi >/dev/null 2>$tmp/err; t "--prompt ambiguous exit 2" "[ $? = 2 ]"
t "--prompt names the candidates" "grep -q 'ambiguous' $tmp/err && grep -q '5 (CLIPTextEncode)' $tmp/err && grep -q '11 (CLIPTextEncode)' $tmp/err"

o=$tmp/o4
run $tmp/chain.json --output $o --json >$tmp/j 2>/dev/null; t "--json exit 0" "[ $? = 0 ]"
t "--json execution_start" "head -n 1 $tmp/j | grep -q '^{\"type\":\"execution_start\",\"data\":{\"prompt_id\":\"'"
t "--json executing" "grep -q '^{\"type\":\"executing\",\"data\":{\"node\":\"2\",\"display_node\":\"2\",\"prompt_id\":' $tmp/j"
t "--json executed" "grep -q '\"type\":\"executed\",\"data\":{\"node\":\"3\",\"display_node\":\"3\",\"output\":{\"images\":\[{\"filename\":\"w_12_00001_.png\",\"subfolder\":\"\",\"type\":\"output\"}\]}' $tmp/j"
t "--json finish" "grep -q '\"executing\",\"data\":{\"node\":null' $tmp/j && tail -n 1 $tmp/j | grep -q execution_success"
t "--json lines only" "! grep -qv '^{\"type\":' $tmp/j"
run $tmp/chain.json --output $o --json --batch-count 2 --seed 7 >$tmp/j 2>/dev/null; t "--batch-count exit 0" "[ $? = 0 ]"
t "--batch-count runs two jobs" "[ \$(grep -c execution_start $tmp/j) = 2 ]"
t "second identical job served from cache" "grep -q '\"execution_cached\",\"data\":{\"nodes\":\[\"1\",\"2\",\"3\"\]' $tmp/j"
printf '{"Scaler.width": 20}\n\n{"2.width": 22, "seed": 3}\nplain text prompt\n' >$tmp/prompts
run $tmp/chain.json --output $o --prompts $tmp/prompts >/dev/null 2>$tmp/err; t "--prompts exit 0" "[ $? = 0 ]"
t "--prompts jobs" "[ -f $o/w_20_00001_.png ] && [ -f $o/w_22_00001_.png ] && grep -q 'job 3/3' $tmp/err"
printf '{"2.nope": 1}\n' >$tmp/bad_prompts
run $tmp/chain.json --output $o --prompts $tmp/bad_prompts >/dev/null 2>&1; t "--prompts bad line exit 2" "[ $? = 2 ]"
# a bad line in a batch: reported with its line in the file (blank lines count), the other jobs
# still run, a summary and a non-zero exit at the end; --fail-fast stops at the first one
printf '{"2.width": 31}\n\n{"2.width": 32}\n\n{"2.nope": 1}\n{"2.width": 34}\n{"2.width": "x"}\n{"2.width": 36}\n' >$tmp/mixed
o=$tmp/o_mixed
run $tmp/chain.json --output $o --prompts $tmp/mixed >/dev/null 2>$tmp/err; rc=$?
t "--prompts with bad lines exit 2" "[ $rc = 2 ]"
t "bad line named by its file line" "grep -q -- '--prompts line 5: .*no input .nope.' $tmp/err && grep -q -- '--prompts line 7: ' $tmp/err"
t "the good jobs all ran" "[ -f $o/w_31_00001_.png ] && [ -f $o/w_32_00001_.png ] && [ -f $o/w_34_00001_.png ] && [ -f $o/w_36_00001_.png ]"
t "summary names the failed lines" "grep -q 'fluxgraph run: 4 done, 2 failed: lines 5, 7' $tmp/err"
o=$tmp/o_ff
run $tmp/chain.json --output $o --prompts $tmp/mixed --fail-fast >/dev/null 2>$tmp/err; rc=$?
t "--fail-fast exit 2" "[ $rc = 2 ]"
t "--fail-fast stops at the first bad line" "[ -f $o/w_32_00001_.png ] && [ ! -f $o/w_34_00001_.png ] && ! grep -q 'failed: lines' $tmp/err"

o=$tmp/o5
run $tmp/chain.json --output $o --no-metadata >/dev/null 2>&1; t "--no-metadata exit 0" "[ $? = 0 ]"
$FG convert $o/w_12_00001_.png >/dev/null 2>&1; t "--no-metadata: no workflow in the PNG" "[ $? = 2 ]"
run $tmp/chain.json --output $o --format jpeg --quality 80 >/dev/null 2>&1; t "--format jpeg" "[ $? = 0 ] && [ -f $o/w_12_00002_.jpg ]"
t "JPEG magic" "[ \"\$(head -c 3 $o/w_12_00002_.jpg | od -An -tx1 | tr -d ' ')\" = ffd8ff ]"
run $tmp/chain.json --output $o --format gif >/dev/null 2>&1; t "--format bad exit 2" "[ $? = 2 ]"

# a sampler ComfyUI lists that fluxgraph does not run is not offered: refused before anything
# loads, as ComfyUI refuses a value not in its list
$FG run tests/fixtures/workflows/tiny_txt2img.api.json --models tests/fixtures/models --output $tmp/o6 \
    --set 31.sampler_name=dpmpp_2m_sde >/dev/null 2>$tmp/err
t "sampler not offered: exit 2" "[ $? = 2 ] && [ ! -d $tmp/o6 ]"
t "sampler not offered: value_not_in_list" "grep -q \"node 31 (KSampler) input 'sampler_name': Value not in list: sampler_name: 'dpmpp_2m_sde' not in \['euler', \" $tmp/err"
# runtime failure: DualCLIPLoader given two T5-XXL files (only loading tells); nothing written
o=$tmp/o6
$FG run tests/fixtures/workflows/tiny_txt2img.api.json --models tests/fixtures/models --output $o --json \
    --set 11.clip_name2=tiny-t5xxl.safetensors >$tmp/j 2>$tmp/err
t "runtime failure exit 3" "[ $? = 3 ]"
t "runtime failure names the node" "grep -q 'node 11 (DualCLIPLoader).*are both T5-XXL' $tmp/err"
t "error names node and class" "grep -q 'fluxgraph run: error: node [0-9]* ([A-Za-z]*)' $tmp/err"
t "--json execution_error" "grep -q '\"type\":\"execution_error\",\"data\":{\"prompt_id\":\"[^\"]*\",\"node_id\":\"[0-9]*\",\"node_type\":\"[A-Za-z]*\"' $tmp/j"
t "no partial files" "[ ! -d $o ] || [ -z \"\$(find $o -type f)\" ]"
$FG run tests/fixtures/workflows/tiny_txt2img.api.json --models tests/fixtures/models --output $o --prompt 'a dog' >/dev/null 2>&1
t "--prompt unambiguous on a FLUX workflow" "[ $? = 0 ] && $FG convert $o/tiny_00001_.png 2>/dev/null | grep -q '\"text\": \"a dog\"'"

# parallel writers: 4 processes x 5 images with one prefix into one folder give 20 intact,
# distinct files (each name is claimed atomically; a taken number moves on to the next)
$B/tests/test_executor --make-png $tmp/in/big.png 256 256 3 || echo "FAIL make-png"
cat >$tmp/par.json <<'JSON'
{"1": {"class_type": "LoadImage", "inputs": {"image": "big.png"}},
 "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "bilinear", "width": 384, "height": 384, "crop": "disabled"}},
 "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "par"}}}
JSON
for k in 1 2 3 4; do
    for w in 1 2 3 4 5; do echo "{\"2.width\": $((380 + 10 * k + w))}"; done >$tmp/par_$k
done
o=$tmp/o_par
for k in 1 2 3 4; do run $tmp/par.json --output $o --prompts $tmp/par_$k >/dev/null 2>$tmp/par_err_$k & done
wait
t "parallel writers: every process succeeded" "! grep -l 'error' $tmp/par_err_* >/dev/null"
t "parallel writers: 20 files" "[ \$(ls $o | grep -c '^par_[0-9]*_\\.png\$') = 20 ] && [ \$(ls $o | wc -l) = 20 ]"
intact=0
for f in $o/par_*.png; do $B/tests/test_e2e --same-pixels $f $f 2>/dev/null && intact=$((intact + 1)); done
t "parallel writers: 20 intact PNGs ($intact)" "[ $intact = 20 ]"
t "parallel writers: 20 different images" "[ \$(md5sum $o/par_*.png | awk '{print \$1}' | sort -u | wc -l) = 20 ]"

# a nested --output that does not exist is created before anything runs (as ComfyUI's makedirs);
# an --output that cannot be a folder fails before the first node, naming it
run $tmp/chain.json --output $tmp/deep/a/b/c >/dev/null 2>&1
t "nested --output created" "[ $? = 0 ] && [ -f $tmp/deep/a/b/c/w_12_00001_.png ]"
echo x >$tmp/afile
run $tmp/chain.json --output $tmp/afile/sub --json >$tmp/j 2>$tmp/err; rc=$?
t "--output under a file: exit 2, named, nothing ran" "[ $rc = 2 ] && grep -q -- '--output $tmp/afile/sub: .*afile exists and is not a folder' $tmp/err && ! grep -q executing $tmp/j"
$FG run $tmp/chain.json --output $tmp/o_in --input $tmp/afile >/dev/null 2>$tmp/err
t "--input that is a file: exit 2, named" "[ $? = 2 ] && grep -q -- '--input $tmp/afile is not a folder' $tmp/err"

# non-finite --set values are refused naming the flag (jansson cannot hold nan/inf: they were
# silently dropped and the workflow's own value ran)
for v in nan inf -inf 1e999; do
    $FG run tests/fixtures/workflows/tiny_txt2img.api.json --models tests/fixtures/models --output $tmp/o_nan \
        --set 31.cfg=$v >/dev/null 2>$tmp/err
    t "--set cfg=$v refused" "[ $? = 2 ] && grep -q \"\-\-set node 31 (KSampler) input 'cfg': '$v' is not a finite number\" $tmp/err && [ ! -d $tmp/o_nan ]"
done

$FG run tests/hostile_workflows/steps_zero.json --output $tmp/o7 >/dev/null 2>&1; t "invalid workflow exit 2" "[ $? = 2 ]"
$FG run /nonexistent.json --output $tmp/o7 >/dev/null 2>&1; t "missing file exit 2" "[ $? = 2 ]"
$FG run >/dev/null 2>&1; t "usage exit 2" "[ $? = 2 ]"
o=$tmp/o8
$FG run workflows/tiny_decode.api.json --models tests/fixtures/models --output $o >$tmp/out 2>$tmp/err
t "demo workflow exit 0" "[ $? = 0 ] && grep -qx '$o/tiny_decode_00001_.png' $tmp/out"
t "demo image is a PNG with the prompt" "$FG convert $o/tiny_decode_00001_.png 2>/dev/null | grep -q '\"class_type\": \"VAEDecode\"'"
$FG run $o/tiny_decode_00001_.png --models tests/fixtures/models --output $o >/dev/null 2>&1
t "a saved PNG runs again (its prompt chunk)" "[ $? = 0 ] && [ -f $o/tiny_decode_00002_.png ]"
$FG run workflows/tiny_decode.api.json --models tests/fixtures/models --output $o --set 1.batch_size=2 --set 4.filename_prefix=sub/b >/dev/null 2>&1
t "demo workflow batch of two in a subfolder" "[ -f $o/sub/b_00001_.png ] && [ -f $o/sub/b_00002_.png ]"
printf '{"1.batch_size": 1}\n{"1.batch_size": 2}\n' >$tmp/demo_prompts
$FG run workflows/tiny_decode.api.json --models tests/fixtures/models --output $o --prompts $tmp/demo_prompts --json >$tmp/j 2>/dev/null
t "--prompts: one executor, the VAE loaded once" "[ $? = 0 ] && [ \$(grep -c '\"executing\",\"data\":{\"node\":\"2\"' $tmp/j) = 1 ]"
$FG run workflows/tiny_decode.api.json --models $tmp/m --output $tmp/o7 >/dev/null 2>&1; t "demo workflow without the VAE file exit 2" "[ $? = 2 ]"

# hostile workflows: exit 2 or 3, never a crash, nothing outside the output folder
mkdir -p $tmp/h && cp $tmp/in/a.png $tmp/h/
bad=0
for f in tests/hostile_workflows/*; do
    for models in "--models $tmp/m" ""; do
        (cd $tmp/h && $OLDPWD/$FG run $OLDPWD/$f $models --output out --input . >/dev/null 2>&1); rc=$?
        if [ $rc != 2 ] && [ $rc != 3 ]; then bad=$((bad+1)); echo "  $f ($models): exit $rc"; fi
    done
done
t "hostile workflows exit 2 or 3" "[ $bad = 0 ]"
t "hostile workflows write nothing outside the output folder" "[ \"\$(cd $tmp/h && find . -mindepth 1 -not -path './out' -not -path './out/*' | sort)\" = ./a.png ]"
t "nothing escaped the temp dir" "[ \"\$(ls $tmp/.. | grep -c '^x_\|^evil')\" = 0 ]"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
