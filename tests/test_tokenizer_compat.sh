#!/usr/bin/env bash
# The tokenizer compatibility switch (docs/tokenizers.md): `fluxgraph probe tokenize` reproduces
# the real-library fixtures exactly (ComfyUI 6db4fa2f's FluxTokenizer under transformers 5.x and
# 4.x, tests/fixtures/tokenizers/*.safetensors.gz, checked by test_tokenizers --compare-probe) in
# the matching mode; --tokenizer-compat / FLUXGRAPH_TOKENIZER_COMPAT parsing (the option wins, a
# bad value is exit 2); `run` honours the switch; "embedding:" with no name is a clear error.
# Usage: tests/test_tokenizer_compat.sh [BUILD_DIR]    (run from the repository root)
set -u
build=${1:-build}
fg="$build/fluxgraph"
fix=tests/fixtures/tokenizers
. tests/shell_lib.sh
unset FLUXGRAPH_TOKENIZER_COMPAT

# --- the real-library fixtures, each in its own mode ---------------------------------------------
for v in 5 4; do
    golden="$tmp/t$v.safetensors"
    gzip -dc "$fix/comfyui_transformers$v.safetensors.gz" >"$golden"
    "$fg" --tokenizer-compat transformers$v probe tokenize --golden "$golden" --out "$tmp/p$v.safetensors" >"$tmp/log" 2>&1
    rc=$?
    [ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
    check "probe tokenize --tokenizer-compat transformers$v exits 0" $rc
    "$build/tests/test_tokenizers" --compare-probe "$tmp/p$v.safetensors" "$golden" >"$tmp/cmp.log" 2>&1
    rc=$?
    grep -E '^(  probe|FAIL)' "$tmp/cmp.log" | head -20 | sed 's/^/  /'
    check "transformers $v fixture: every tensor exact ($(grep -o '[0-9]* / [0-9]* tensors' "$tmp/cmp.log"))" $rc
done
# The other mode differs (so the fixtures do tell the modes apart).
"$fg" --tokenizer-compat transformers4 probe tokenize --golden "$tmp/t5.safetensors" --out "$tmp/x.safetensors" >/dev/null 2>&1
"$build/tests/test_tokenizers" --compare-probe "$tmp/x.safetensors" "$tmp/t5.safetensors" >/dev/null 2>&1
check "transformers4 mode does not reproduce the transformers 5 fixture" $([ $? != 0 ]; echo $?)
# The default, the environment variable, and the option winning over it.
"$fg" probe tokenize --golden "$tmp/t5.safetensors" --out "$tmp/d.safetensors" >/dev/null 2>&1
cmp -s "$tmp/d.safetensors" "$tmp/p5.safetensors"
check "default mode is transformers5" $?
FLUXGRAPH_TOKENIZER_COMPAT=transformers4 "$fg" probe tokenize --golden "$tmp/t5.safetensors" --out "$tmp/e.safetensors" >/dev/null 2>&1
cmp -s "$tmp/e.safetensors" "$tmp/x.safetensors"
check "FLUXGRAPH_TOKENIZER_COMPAT=transformers4 selects transformers4" $?
FLUXGRAPH_TOKENIZER_COMPAT=transformers4 "$fg" --tokenizer-compat=transformers5 probe tokenize --golden "$tmp/t5.safetensors" \
    --out "$tmp/f.safetensors" >/dev/null 2>&1
cmp -s "$tmp/f.safetensors" "$tmp/p5.safetensors"
check "--tokenizer-compat wins over FLUXGRAPH_TOKENIZER_COMPAT" $?

# --- bad values -----------------------------------------------------------------------------------
bad_value() { # NAME ENV ARGS...
    local name=$1 env=$2; shift 2
    FLUXGRAPH_TOKENIZER_COMPAT=$env "$fg" "$@" version >"$tmp/log" 2>&1
    local rc=$? ok=0
    [ $rc = 2 ] || { echo "  exit $rc, expected 2 (a usage error, like --device)"; ok=1; }
    grep -q "must be transformers5 or transformers4" "$tmp/log" || { sed 's/^/    /' "$tmp/log"; ok=1; }
    check "$name" $ok
}
bad_value "--tokenizer-compat transformers3: exit 2 with a message" "" --tokenizer-compat transformers3
bad_value "--tokenizer-compat= (empty): exit 2" "" --tokenizer-compat=
bad_value "FLUXGRAPH_TOKENIZER_COMPAT=4: exit 2" 4
"$fg" --tokenizer-compat >"$tmp/log" 2>&1
check "--tokenizer-compat without a value: usage error" $([ $? = 2 ]; echo $?)

# --- run honours the switch -----------------------------------------------------------------------
wf=tests/fixtures/workflows/tiny_txt2img.api.json
prompt='日本 ΑΣ x,<|ENDOFTEXT|>'
for m in transformers5 transformers4 default; do
    opt=(--tokenizer-compat $m)
    [ $m = default ] && opt=()
    "$fg" "${opt[@]}" run $wf --models tests/fixtures/models --output "$tmp/run_$m" --prompt "$prompt" >"$tmp/log" 2>&1
    rc=$?
    [ $rc = 0 ] || sed 's/^/    /' "$tmp/log" | tail -5
    check "run ($m) exits 0" $rc
done
a=$(ls "$tmp"/run_transformers5/*.png 2>/dev/null | head -1)
b=$(ls "$tmp"/run_transformers4/*.png 2>/dev/null | head -1)
c=$(ls "$tmp"/run_default/*.png 2>/dev/null | head -1)
[ -n "$a" ] && [ -n "$b" ] && ! cmp -s "$a" "$b"
check "run: the two modes tokenize '$prompt' differently (other images)" $?
[ -n "$a" ] && [ -n "$c" ] && cmp -s "$a" "$c"
check "run: the default is transformers5" $?

# --- "embedding:" with no name --------------------------------------------------------------------
t='"p0_clip_raw":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}'
for p in 'a embedding:' 'embedding:\\n' '(embedding: :1.2)'; do
    make_st "$tmp/emb.safetensors" "{$t,\"__metadata__\":{\"count\":\"1\",\"p0\":\"\\\"$p\\\"\"}}" 8
    rm -f "$tmp/emb_out.safetensors"
    "$fg" probe tokenize --golden "$tmp/emb.safetensors" --out "$tmp/emb_out.safetensors" >"$tmp/log" 2>&1
    rc=$? ok=0
    [ $rc = 1 ] || { echo "  exit $rc, expected 1"; ok=1; }
    grep -q "prompt problem: 'embedding:' is not followed by an embedding name" "$tmp/log" || { sed 's/^/    /' "$tmp/log"; ok=1; }
    [ -e "$tmp/emb_out.safetensors" ] && { echo "  output file left behind"; ok=1; }
    check "probe tokenize '$p': clear error, exit 1" $ok
done
"$fg" run $wf --models tests/fixtures/models --output "$tmp/run_emb" --prompt 'a cat, embedding:' >"$tmp/log" 2>&1
rc=$?
grep -q "CLIPTextEncode.*'embedding:' is not followed by an embedding name" "$tmp/log"
check "run with 'embedding:' and no name: node error naming the prompt problem (exit $rc)" $([ $? = 0 ] && [ $rc = 3 ]; echo $?)

finish
