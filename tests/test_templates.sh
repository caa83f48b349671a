#!/bin/bash
# Workflows as today's ComfyUI saves them: the 13 official FLUX.1 templates, the 22 ComfyUI
# example workflows and the edge cases (subgraphs nested and bypassed, promoted widgets,
# reroutes, primitives, schema 1) convert to exactly the API prompt ComfyUI's frontend 1.48.7
# sends for them (tests/fixtures/frontend, made by tools/frontend_fixtures); the README's
# template table says what validation finds; the templates whose nodes exist run end to end
# on the tiny models named as the real ones; hostile subgraph files fail cleanly.
# $1 = build dir.
build=${1:-build}
FG="$build/fluxgraph --device cpu"
. tests/shell_lib.sh
FE=tests/fixtures/frontend
TPL=tests/fixtures/templates
EX=tests/fixtures/workflows/comfyui_examples

# ---- conversion: byte-identical to the frontend's prompt (ids, key order, values) -------------
same_prompt() { # NAME UI API
    $FG convert "$2" >$tmp/ours.json 2>$tmp/err && $FG convert "$3" >$tmp/want.json 2>>$tmp/err &&
        cmp -s $tmp/ours.json $tmp/want.json
    local rc=$?
    [ $rc = 0 ] || { echo "  differs:"; diff <(tr '}' '\n' <$tmp/ours.json) <(tr '}' '\n' <$tmp/want.json) | head -n 6; cat $tmp/err; }
    check "$1 converts to the frontend's prompt" $rc
}
n=0
for f in $TPL/*.json; do
    stem=$(basename "$f" .json)
    same_prompt "template $stem" "$f" "$FE/$stem.api.json"; n=$((n + 1))
done
check "13 templates compared" "$([ $n = 13 ]; echo $?)"
n=0
for f in $EX/*.ui.json; do
    stem=$(basename "$f" .ui.json)
    same_prompt "example $stem" "$f" "$FE/$stem.api.json"; n=$((n + 1))
done
check "22 examples compared" "$([ $n = 22 ]; echo $?)"
n=0 refused=0
for f in $FE/edge/*.ui.json; do
    stem=$(basename "$f" .ui.json)
    [ $stem = unknown_node_type ] && continue
    if [ ! -e "$FE/edge/$stem.api.json" ]; then
        # The frontend could not make a prompt of it (tools/frontend_fixtures records the error
        # in _handmade_report.json): fluxgraph refuses it too, naming the link at fault.
        $FG convert "$f" >/dev/null 2>$tmp/e
        rc=$?
        [ $rc = 2 ] && grep -q "link" $tmp/e
        ok=$?
        [ $ok = 0 ] || echo "  exit $rc: $(head -c 300 $tmp/e)"
        check "edge case $stem is refused, as by the frontend" $ok
        refused=$((refused + 1))
        continue
    fi
    same_prompt "edge case $stem" "$f" "$FE/edge/$stem.api.json"; n=$((n + 1))
done
check "31 edge cases compared, 3 refused" "$([ $n = 31 ] && [ $refused = 3 ]; echo $?)"
# A node of an unknown class: the frontend sends it without class_type (ComfyUI then refuses
# the whole prompt); fluxgraph keeps the class so validation can name it. The rest is the same.
$FG convert $FE/edge/unknown_node_type.ui.json >$tmp/ours.json 2>/dev/null
$FG convert $FE/edge/unknown_node_type.api.json >$tmp/want.json 2>/dev/null
cmp -s <(sed 's/, "10": .*//' $tmp/ours.json) <(sed 's/, "10": .*//' $tmp/want.json) &&
    grep -q '"10": {"inputs": {"image": \["8", 0\]}, "class_type": "FancyUpscaleNotInstalled"' $tmp/ours.json
check "edge case unknown_node_type: the same prompt, the unknown node keeping its class" $?
$FG validate $FE/edge/unknown_node_type.ui.json >/dev/null 2>$tmp/e
[ $? = 2 ] && grep -q "FancyUpscaleNotInstalled: node 10" $tmp/e
check "the unknown class is reported by validation" $?

# Dynamic prompts pick at random, as the frontend does (the deterministic rest is an edge case
# above): over 40 reads both options of {red|blue} appear, and nothing else.
printf '%s' '{"version": 0.4, "links": [], "nodes": [{"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a {red|blue} car"]}]}' >$tmp/dp.json
for i in $(seq 40); do $FG convert $tmp/dp.json 2>/dev/null | grep -o '"text": "[^"]*"'; done | sort | uniq -c >$tmp/picks
[ "$(wc -l <$tmp/picks)" = 2 ] && grep -q '"text": "a red car"' $tmp/picks && grep -q '"text": "a blue car"' $tmp/picks
check "dynamic prompts: {red|blue} gives both, and only them" $?

# ---- a models folder with the real file names (copies of the tiny models) ----------------------
M=$tmp/models
mkdir -p $M/diffusion_models $M/text_encoders $M/vae $M/checkpoints
place() { ln "$1" "$2" 2>/dev/null || cp "$1" "$2"; }
T=tests/fixtures/models
for name in flux1-dev flux1-schnell flux1-krea-dev_fp8_scaled; do
    place $T/diffusion_models/tiny-flux.safetensors $M/diffusion_models/$name.safetensors
done
place $T/text_encoders/tiny-clip-l.safetensors $M/text_encoders/clip_l.safetensors
place $T/text_encoders/tiny-t5xxl.safetensors $M/text_encoders/t5xxl_fp16.safetensors
place $T/vae/tiny-ae.safetensors $M/vae/ae.safetensors
$build/tests/test_e2e --write-checkpoint $M/checkpoints/flux1-schnell-fp8.safetensors
check "all-in-one checkpoint written" $?

# ---- the README's template table is what validation finds --------------------------------------
for f in $TPL/*.json; do
    stem=$(basename "$f" .json)
    $FG validate --json "$f" --models $M >$tmp/v.json 2>$tmp/v.err
    rc=$?
    needs=$(sed -n 's/.*"unsupported_class_types": \[\([^]]*\)\].*/\1/p' $tmp/v.json | tr -d '"' | tr ',' '\n' |
        sed 's/^ *//' | sort | paste -sd, | sed 's/,/, /g')
    if [ -z "$needs" ]; then status=runs; [ $rc = 0 ] || status="invalid (exit $rc)"; else status="needs $needs"; fi
    grep -qF "| \`$stem\` | $status |" README.md
    check "README: $stem | $status" $?
done
$FG validate $TPL/flux_kontext_dev_basic.json --models $M >/dev/null 2>$tmp/e
grep -q "ReferenceLatent: node 192:177 (in subgraph 'Image Edit (Flux.1 Kontext Dev)')" $tmp/e
check "a missing node inside a subgraph is named with its subgraph" $?
$FG validate $TPL/flux1_dev_uso_reference_image_gen.json --models $M >/dev/null 2>$tmp/e
grep -q "112:57:44 (in subgraph 'USO Character Reference' > 'USO Reference Conditioning')" $tmp/e
check "nested subgraphs are named outer > inner" $?

# ---- the runnable templates, end to end --------------------------------------------------------
run_template() { # NAME OUT-DIR ARGS...
    local name=$1 out=$2; shift 2
    $FG run $TPL/$name.json --models $M --output $out "$@" >$tmp/out 2>$tmp/err
    local rc=$?
    [ $rc = 0 ] || tail -n 5 $tmp/err
    check "template $name runs (exit 0)" $rc
    [ "$(ls $out/*.png 2>/dev/null | wc -l)" = 1 ]; check "template $name writes its image" $?
}
# As shipped: 1024x1024, 20 steps, through the subgraph.
run_template flux_dev_full_text_to_image $tmp/dev --json
grep -q '"type":"progress","data":{"value":20,"max":20,.*"node":"194:50"' $tmp/out; check "progress events name the flattened id 194:50" $?
# The others smaller: --set reaches nodes inside subgraphs by their flattened ids.
run_template flux_dev_checkpoint_example $tmp/ckpt --set 56:50.width=256 --set 56:50.height=256 --set 56:52.steps=4
run_template flux1_krea_dev $tmp/krea --set 200:196.width=256 --set 200:196.height=256 --set 200:197.steps=4
run_template flux_schnell $tmp/schnell --set 27.width=256 --set 27.height=256
run_template flux_schnell_full_text_to_image $tmp/schnell_full --set 27.width=256 --set 27.height=256
$FG convert $tmp/ckpt/*.png >$tmp/embedded.json 2>/dev/null
grep -q '"56:50": {"inputs": {"width": 256, "height": 256' $tmp/embedded.json
check "the saved PNG carries the subgraph workflow, re-converted with the --set values" $?
$FG run $tmp/ckpt/*.png --models $M --output $tmp/again >/dev/null 2>&1
$build/tests/test_e2e --same-pixels $tmp/again/*.png $tmp/ckpt/*.png
check "the template's PNG regenerates the same image" $?
$FG run $TPL/flux_dev_checkpoint_example.json --models $M --output $tmp/seed --set 56:50.width=256 \
    --set 56:50.height=256 --set 56:52.steps=4 --set 56:52.seed=5 >/dev/null 2>&1
! $build/tests/test_e2e --same-pixels $tmp/seed/*.png $tmp/ckpt/*.png
check "--set 56:52.seed=5 changes the image" $?
$FG run $TPL/flux_canny_model_example.json --models $M --output $tmp/canny >/dev/null 2>$tmp/e
rc=$?
[ $rc = 2 ] && grep -q "Canny: node" $tmp/e && [ ! -e $tmp/canny ]
check "a template needing missing nodes stops before loading anything (exit 2)" $?

# ---- hostile subgraph files --------------------------------------------------------------------
expect_invalid() { # NAME NEEDLE JSON
    printf '%s' "$3" >$tmp/h.json
    $FG convert $tmp/h.json >/dev/null 2>$tmp/e
    local rc=$?
    [ $rc = 2 ] && grep -qF -- "$2" $tmp/e
    local ok=$?
    [ $ok = 0 ] || { echo "  exit $rc:"; cat $tmp/e; }
    check "$1" $ok
}
head='"version": 0.4, "links": [],'
expect_invalid "a subgraph containing itself" "contain itself" \
    "{$head \"nodes\": [{\"id\": 1, \"type\": \"A\"}], \"definitions\": {\"subgraphs\": [
     {\"id\": \"A\", \"name\": \"Loop\", \"nodes\": [{\"id\": 2, \"type\": \"A\"}], \"links\": []}]}}"
expect_invalid "two subgraphs containing each other" "contain itself" \
    "{$head \"nodes\": [{\"id\": 1, \"type\": \"A\"}], \"definitions\": {\"subgraphs\": [
     {\"id\": \"A\", \"name\": \"a\", \"nodes\": [{\"id\": 2, \"type\": \"B\"}]},
     {\"id\": \"B\", \"name\": \"b\", \"nodes\": [{\"id\": 3, \"type\": \"A\"}]}]}}"
expect_invalid "a definition without an id" "subgraph definition #0 has no \"id\"" \
    "{$head \"nodes\": [], \"definitions\": {\"subgraphs\": [{\"name\": \"x\", \"nodes\": []}]}}"
expect_invalid "subgraphs that are not an array" "definitions.subgraphs is not an array" \
    "{$head \"nodes\": [], \"definitions\": {\"subgraphs\": {}}}"
expect_invalid "a definition whose nodes are not an array" "subgraph 'x': \"nodes\" is not an array" \
    "{$head \"nodes\": [], \"definitions\": {\"subgraphs\": [{\"id\": \"S\", \"name\": \"x\", \"nodes\": 5}]}}"
expect_invalid "a flattened id cannot be forged with a colon" "lacks a valid \"id\"" \
    "{$head \"nodes\": [{\"id\": \"1:2\", \"type\": \"KSampler\"}]}"
# Ten instances of a definition holding ten instances of the next, eight levels deep: 10^8
# nodes from a tiny file.
defs="" prev=""
for level in 1 2 3 4 5 6 7 8; do
    inner=""
    for k in 1 2 3 4 5 6 7 8 9 10; do
        if [ -z "$prev" ]; then inner+="{\"id\": $k, \"type\": \"VAELoader\"},"; else inner+="{\"id\": $k, \"type\": \"$prev\"},"; fi
    done
    defs+="{\"id\": \"L$level\", \"name\": \"l$level\", \"nodes\": [${inner%,}]},"
    prev=L$level
done
expect_invalid "subgraphs that multiply into 10^8 nodes" "expand to more than" \
    "{$head \"nodes\": [{\"id\": 1, \"type\": \"L8\"}], \"definitions\": {\"subgraphs\": [${defs%,}]}}"
# A legacy group node holding a PrimitiveNode is refused, naming the group.
expect_invalid "a group node holding a PrimitiveNode" "group node 'G' holds a PrimitiveNode" \
    "{$head \"nodes\": [{\"id\": 1, \"type\": \"workflow>G\"}], \"extra\": {\"groupNodes\": {\"G\": {
     \"nodes\": [{\"type\": \"PrimitiveNode\", \"index\": 0}], \"links\": [], \"external\": []}}}}"
expect_invalid "a group node whose nodes are not an array" "group node 'G': \"nodes\" is not an array" \
    "{$head \"nodes\": [{\"id\": 1, \"type\": \"workflow>G\"}], \"extra\": {\"groupNodes\": {\"G\": {\"nodes\": 3}}}}"
# An instance whose definition is missing is an unknown node, reported by validation.
printf '%s' "{$head \"nodes\": [{\"id\": 7, \"type\": \"5e1c-missing\"}]}" >$tmp/h.json
$FG validate $tmp/h.json >/dev/null 2>$tmp/e
[ $? = 2 ] && grep -q "5e1c-missing: node 7" $tmp/e
check "an instance of a missing subgraph definition is an unknown node" $?
# A link from the subgraph input node to a slot the definition does not have is dropped.
printf '%s' "{$head \"nodes\": [{\"id\": 1, \"type\": \"S\", \"mode\": 0}], \"definitions\": {\"subgraphs\": [
  {\"id\": \"S\", \"name\": \"s\", \"inputs\": [], \"outputs\": [],
   \"nodes\": [{\"id\": 2, \"type\": \"VAEDecode\", \"inputs\": [{\"name\": \"vae\", \"type\": \"VAE\", \"link\": 9}]}],
   \"links\": [{\"id\": 9, \"origin_id\": -10, \"origin_slot\": 99, \"target_id\": 2, \"target_slot\": 0, \"type\": \"VAE\"}]}]}}" >$tmp/h.json
$FG convert $tmp/h.json >$tmp/o.json 2>$tmp/e
[ $? = 0 ] && grep -q '"1:2": {"inputs": {}, "class_type": "VAEDecode"' $tmp/o.json
check "a link from a subgraph input that does not exist is dropped" $?

finish
