#!/usr/bin/env bash
# Regenerate the real-library tokenizer fixtures: ComfyUI's own FluxTokenizer (CLIP-L + T5-XXL,
# tokenize_with_weights) and the plain Hugging Face tokenizers, run on corpus.json under
# transformers 5.x and under transformers 4.x (>= 4.50.3, ComfyUI's floor), each in a throwaway
# virtualenv outside the repository.
#
# usage: tools/tokenizer_fixtures/run.sh COMFYUI_SRC_DIR COMFYUI_COMMIT
#
#   COMFYUI_SRC_DIR  an unpacked upstream ComfyUI source tree (nothing is fetched from GitHub;
#                    README.md says how to get commit 6db4fa2f)
#   COMFYUI_COMMIT   the commit that tree was taken from (recorded in the JSON files)
#
# environment (all optional):
#   FXTOK_WORK        scratch dir for the virtualenvs (default /tmp/fxtok; never in the repo)
#   FXTOK_VENV5, FXTOK_VENV4   use these existing virtualenvs instead of creating them (they
#                     need transformers 5.x / 4.x, torch and ComfyUI's tokenizer imports)
#   FXTOK_TRANSFORMERS5 (default "transformers>=5,<6"), FXTOK_TRANSFORMERS4 (default
#                     "transformers>=4.50.3,<5"): pip requirement of each virtualenv
#   FXTOK_TORCH_INDEX pip index for torch (default https://download.pytorch.org/whl/cpu)
#   FXTOK_TORCH_SITE  instead of installing torch: a site-packages folder that has it, added to
#                     each new virtualenv with a .pth file (after the virtualenv's own packages)
#
# Writes tests/fixtures/tokenizers/comfyui_transformers{5,4}.safetensors.gz and .json.
# Needs network access to PyPI (and the torch index) unless both virtualenvs are given.
set -euo pipefail

SRC=${1:?usage: run.sh COMFYUI_SRC_DIR COMFYUI_COMMIT}
COMMIT=${2:?usage: run.sh COMFYUI_SRC_DIR COMFYUI_COMMIT}
SRC=$(cd "$SRC" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${FXTOK_WORK:-/tmp/fxtok}
OUT="$REPO/tests/fixtures/tokenizers"
case "$WORK/" in "$REPO"/*) echo "run.sh: FXTOK_WORK must be outside the repository" >&2; exit 2 ;; esac
for f in comfy/sd1_clip.py comfy/text_encoders/flux.py comfy/sd1_tokenizer/vocab.json \
         comfy/text_encoders/t5_tokenizer/tokenizer.json requirements.txt; do
    [ -f "$SRC/$f" ] || { echo "run.sh: $SRC is not a ComfyUI source tree (no $f)" >&2; exit 2; }
done
mkdir -p "$WORK" "$OUT"

# The packages ComfyUI's tokenizer import chain needs besides torch and transformers, with the
# pins of the tree's own requirements.txt.
comfy_reqs() {
    grep -E -i '^(numpy|einops|sentencepiece|safetensors|pyyaml|pillow|psutil|tqdm|requests|tokenizers|comfy-kitchen|comfy-aimdo)([<>=~ ]|$)' \
        "$SRC/requirements.txt"
}

make_venv() { # DIR TRANSFORMERS_REQUIREMENT
    local dir=$1 spec=$2
    if [ ! -x "$dir/bin/python" ]; then
        python3 -m venv "$dir"
        "$dir/bin/pip" install -q --upgrade pip
    fi
    # shellcheck disable=SC2046
    "$dir/bin/pip" install -q "$spec" $(comfy_reqs)
    if [ -n "${FXTOK_TORCH_SITE:-}" ]; then
        local site
        site=$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        echo "$FXTOK_TORCH_SITE" >"$site/zz_fxtok_torch.pth"
    else
        "$dir/bin/pip" install -q torch --index-url "${FXTOK_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
    fi
}

generate() { # MAJOR PYTHON
    local major=$1 py=$2 tmp="$WORK/comfyui_transformers$1.safetensors"
    "$py" "$HERE/gen.py" "$SRC" "$COMMIT" "$HERE/corpus.json" "$tmp" "$OUT/comfyui_transformers$major.json" \
        2> >(grep -v -e 'does not exist, ignoring' -e 'Token indices sequence length' >&2)
    local got
    got=$("$py" -c 'import transformers; print(transformers.__version__.split(".")[0])')
    [ "$got" = "$major" ] || { echo "run.sh: $py has transformers $got, expected $major.x" >&2; exit 1; }
    gzip -9 -n -c "$tmp" >"$OUT/comfyui_transformers$major.safetensors.gz"
    rm -f "$tmp"
    # The rules docs/tokenizers.md states, one probe each, against this library version.
    "$py" "$HERE/check_claims.py" "$SRC" 2> >(grep -v -e 'does not exist, ignoring' >&2)
}

V5=${FXTOK_VENV5:-}
V4=${FXTOK_VENV4:-}
[ -n "$V5" ] || { V5="$WORK/venv5"; make_venv "$V5" "${FXTOK_TRANSFORMERS5:-transformers>=5,<6}"; }
[ -n "$V4" ] || { V4="$WORK/venv4"; make_venv "$V4" "${FXTOK_TRANSFORMERS4:-transformers>=4.50.3,<5}"; }
generate 5 "$V5/bin/python"
generate 4 "$V4/bin/python"
ls -l "$OUT"
