#!/bin/bash
# convert / validate / nodes: exit codes and outputs. $1 = build dir.
B=${1:-build}
FG=$B/fluxgraph
EX=tests/fixtures/workflows/comfyui_examples
pass=0 fail=0
t() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL $1"; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

$FG convert $EX/flux__flux_dev_example.ui.json >$tmp/c.json; rc=$?
t "convert ui exit 0" "[ $rc = 0 ]"
t "convert output has the sampler" "grep -q '\"13\": {\"inputs\": {\"noise\": \[\"25\", 0\]' $tmp/c.json"
t "convert output re-reads" "$FG validate $tmp/c.json >/dev/null 2>&1"
$FG convert $EX/flux__flux_dev_example.api.json >$tmp/a.json; t "convert api exit 0" "[ $? = 0 ]"
$FG convert tests/hostile_workflows/truncated.json >/dev/null 2>$tmp/e; t "convert invalid exit 2" "[ $? = 2 ]"
t "convert invalid message" "grep -q 'invalid JSON' $tmp/e"
$FG convert /nonexistent.json >/dev/null 2>&1; t "convert missing file exit 1" "[ $? = 1 ]"
$FG validate $EX/flux__flux_schnell_example.ui.json >$tmp/o 2>&1; t "validate valid exit 0" "[ $? = 0 ]"
$FG validate tests/hostile_workflows/steps_zero.json >/dev/null 2>$tmp/e; t "validate invalid exit 2" "[ $? = 2 ]"
t "validate human error" "grep -q \"node 5 (KSampler) input 'steps': Value 0 smaller than min of 1\" $tmp/e"
$FG validate tests/hostile_workflows/steps_zero.json --json >$tmp/j 2>/dev/null; t "validate --json exit 2" "[ $? = 2 ]"
t "validate --json shape" "grep -q '\"type\": \"prompt_outputs_failed_validation\"' $tmp/j && grep -q '\"node_errors\": {\"5\": {\"errors\": \[{\"type\": \"value_smaller_than_min\"' $tmp/j"
mkdir -p $tmp/m/diffusion_models
$FG validate $EX/flux__flux_schnell_example.api.json --models $tmp/m >/dev/null 2>$tmp/e; t "validate --models exit 2" "[ $? = 2 ]"
t "validate --models names the file" "grep -q \"unet_name: 'flux1-schnell.safetensors' not in\" $tmp/e"
$FG validate tests/hostile_workflows/unknown_class_suggestion.json 2>$tmp/e; t "unknown class exit 2" "[ $? = 2 ]"
t "unknown class suggestion" "grep -q 'Did you mean: KSampler' $tmp/e"
$FG nodes >$tmp/n; t "nodes exit 0" "[ $? = 0 ]"
t "nodes lists KSampler" "grep -q '^KSampler (model/sampling)' $tmp/n"
$FG nodes --json >$tmp/nj; t "nodes --json exit 0" "[ $? = 0 ]"
t "nodes --json seed" "grep -q '\"seed\": \[\"INT\", {\"default\": 0, \"min\": 0, \"max\": 18446744073709551615, \"control_after_generate\": true, \"tooltip\": ' $tmp/nj"
t "nodes --json output_node" "grep -q '\"SaveImage\": {\"input\": {\"required\": {\"images\": \[\"IMAGE\", {\"tooltip\": \"The images to save.\"}\], \"filename_prefix\"' $tmp/nj"
t "nodes --json hidden" "grep -q '\"hidden\": {\"prompt\": \"PROMPT\", \"extra_pnginfo\": \"EXTRA_PNGINFO\"}}, \"input_order\"' $tmp/nj"
t "nodes --json offers only samplers that run" "grep -q '\"sampler_name\": \[\[\"euler\", \"euler_ancestral\", \"heun\",' $tmp/nj && ! grep -q dpmpp_sde $tmp/nj"
$FG convert tests/hostile_workflows/png_prompt_unknown_class.png >$tmp/p 2>/dev/null; t "convert png exit 0" "[ $? = 0 ]"
t "convert png prompt" "grep -qx '{\"1\": {\"class_type\": \"Evil\", \"inputs\": {}}}' $tmp/p"
$FG convert tests/hostile_workflows/jpeg.jpg >/dev/null 2>&1; t "convert jpeg exit 2" "[ $? = 2 ]"
$FG convert tests/hostile_workflows/ui_subgraph.json >/dev/null 2>$tmp/e; t "convert subgraph exit 2" "[ $? = 2 ]"
t "convert subgraph names it" "grep -q \"subgraph 'My Sub'\" $tmp/e"
$FG validate 2>/dev/null; t "validate usage exit 2" "[ $? = 2 ]"
# Not a workflow at all: --json still answers in ComfyUI's error shape on stdout (issue 14).
printf '[1, 2]' >$tmp/arr.json; printf 'NaN' >$tmp/nan.json; printf '{"a": "\\ud800"}' >$tmp/sur.json
for f in arr nan sur; do
    $FG validate --json $tmp/$f.json >$tmp/vj 2>/dev/null; rc=$?
    t "validate --json $f: exit 2 and the error shape" "[ $rc = 2 ] && grep -q '^{\"error\": {\"type\": \"invalid_prompt\", \"message\": .*\"node_errors\": {}}$' $tmp/vj"
done
# ComfyUI 0.30: an unknown class is missing_node_type, named by the node's title.
printf '{"5": {"class_type": "KSamplr", "inputs": {}, "_meta": {"title": "My Sampler"}}}' >$tmp/u.json
$FG validate --json $tmp/u.json >$tmp/vj 2>/dev/null
t "unknown class: missing_node_type" "grep -q '\"type\": \"missing_node_type\", \"message\": \"Node .My Sampler. not found. The custom node may not be installed.\", \"details\": \"Node ID .#5.\", \"extra_info\": {\"node_id\": \"5\", \"class_type\": \"KSamplr\", \"node_title\": \"My Sampler\"' $tmp/vj"
# Symlinks fanning out without end (each of 20 folders links three times to the next, the last
# back to the first): listing stops at a bound, quickly, and validation names the folder.
fan=$tmp/fan/diffusion_models
for i in $(seq 0 19); do mkdir -p $fan/d$i; done
for i in $(seq 0 18); do for k in 1 2 3; do ln -s ../d$((i + 1)) $fan/d$i/l$k; done; done
ln -s ../d0 $fan/d19/back; : >$fan/d19/x.safetensors
start=$SECONDS
scale=${FG_TEST_TIME_SCALE:-1} # an integer here; `make test-aarch64` raises it for qemu
timeout $((60 * scale)) $FG validate tests/fixtures/workflows/tiny_txt2img.api.json --models $tmp/fan >/dev/null 2>$tmp/e
t "symlink fan-out: validate exit 2 within seconds" "[ $? = 2 ] && [ \$((SECONDS - start)) -lt $((20 * scale)) ]"
t "symlink fan-out: the folder is named" "grep -q 'fan/diffusion_models holds more than 4096 folders' $tmp/e"
timeout $((60 * scale)) $FG nodes --json --models $tmp/fan >/dev/null 2>$tmp/e
t "symlink fan-out: nodes --json warns" "[ $? = 0 ] && grep -q 'unet_name: .*holds more than 4096 folders' $tmp/e"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
