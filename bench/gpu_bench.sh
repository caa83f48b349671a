#!/usr/bin/env bash
# The GPU benchmark of issue 7: `fluxgraph bench --device cuda` and the PyTorch reference
# (bench/flux_torch.py, eager and torch.compile) on the same GPU, at the same sizes, then one
# markdown table with the ratios for BENCHMARKS.md. Needs only the repository and the built
# binary (no network); without PyTorch the fluxgraph numbers are still reported and the script
# says why the comparison is missing.
#
# Usage: bench/gpu_bench.sh [BUILD_DIR]          (from the repository root; `make bench-gpu`)
# Environment (defaults): DEVICE (cuda), PRESET (dev), SIZES (512,1024,1536,2048), STEPS (10),
#   WARMUP (3), BATCH (1), TEXT_TOKENS (512), MODES (eager,compile), PYTHON (python3),
#   OUT (BUILD_DIR/bench-results: fluxgraph.json, fluxgraph.txt, torch.jsonl, torch.err, table.md).
# A quick dry run on the CPU: DEVICE=cpu PRESET=tiny SIZES=64,128 STEPS=2 WARMUP=1 bench/gpu_bench.sh
set -u
build=${1:-build}
fg="$build/fluxgraph"
device=${DEVICE:-cuda}
preset=${PRESET:-dev}
sizes=${SIZES:-512,1024,1536,2048}
steps=${STEPS:-10}
warmup=${WARMUP:-3}
batch=${BATCH:-1}
text_tokens=${TEXT_TOKENS:-512}
modes=${MODES:-eager,compile}
python=${PYTHON:-python3}
out=${OUT:-$build/bench-results}

die() { echo "gpu_bench: $*" >&2; exit 1; }
[ -x "$fg" ] || die "$fg is not built (run make first)"
mkdir -p "$out" || die "cannot create $out"
if ! "$fg" --device "$device" version >/dev/null 2>&1; then
    die "no usable $device device: $("$fg" --device "$device" version 2>&1 | tail -n 1)"
fi

# ---- fluxgraph ------------------------------------------------------------------------------------
echo "== fluxgraph bench ($device, preset $preset, sizes $sizes)"
"$fg" bench --device "$device" --preset "$preset" --sizes "$sizes" --steps "$steps" --warmup "$warmup" \
    --batch "$batch" --text-tokens "$text_tokens" --json "$out/fluxgraph.json" | tee "$out/fluxgraph.txt"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || die "fluxgraph bench failed (exit $rc); see the message above"

# ---- PyTorch --------------------------------------------------------------------------------------
torch_note=""
: >"$out/torch.jsonl"
if ! command -v "$python" >/dev/null 2>&1; then
    torch_note="no PyTorch comparison: $python is not on this machine"
elif ! torch_version=$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null); then
    torch_note="no PyTorch comparison: PyTorch is not installed for $python (pip install torch, or PYTHON=...)"
else
    echo "== PyTorch $torch_version reference ($modes)"
    "$python" bench/flux_torch.py --device "$device" --preset "$preset" --sizes "$sizes" --steps "$steps" \
        --warmup "$warmup" --batch "$batch" --text-tokens "$text_tokens" --modes "$modes" \
        >"$out/torch.jsonl" 2>"$out/torch.err"
    rc=$?
    cat "$out/torch.jsonl"
    if [ "$rc" != 0 ]; then
        torch_note="PyTorch reference failed (exit $rc): $(tail -n 3 "$out/torch.err" | tr '\n' ' ')"
    fi
fi

# ---- the table ------------------------------------------------------------------------------------
# jget FILE SECTION KEY: values of KEY in the top-level object/array SECTION ("." = top level) of
# fluxgraph's JSON record (2-space indentation), one per line.
jget() {
    awk -v sec="$2" -v key="$3" '
        /^  "[a-z_0-9]+": [{[]/ { match($0, /"[a-z_0-9]+"/); cur = substr($0, RSTART + 1, RLENGTH - 2); next }
        /^  [}\]]/ { cur = ""; next }
        {
            if (!match($0, "^ *\"" key "\": ")) next
            v = substr($0, RLENGTH + 1); sub(/,$/, "", v); gsub(/^"|"$/, "", v)
            indent = match($0, /[^ ]/) - 1
            if ((sec == "." && indent == 2 && cur == "") || (sec != "." && cur == sec)) print v
        }' "$1"
}
# torch_ms MODE SIZE: ms/step of flux_torch.py's line for (MODE, SIZE), empty if none.
torch_ms() {
    grep -F "\"mode\": \"$1\", \"size\": $2," "$out/torch.jsonl" | head -n 1 |
        sed -n 's/.*"ms_per_step": \([0-9.eE+-]*\).*/\1/p'
}
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "" || v == "null") print "n/a"; else printf f, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'; }

json="$out/fluxgraph.json"
{
    echo "Machine: $(jget "$json" . machine)"
    echo "fluxgraph $(jget "$json" . version), preset $preset, batch $batch, $text_tokens text tokens," \
        "$warmup warmup + $steps timed steps; peak: $(jget "$json" peak_gemm dtype) GEMM" \
        "$(jget "$json" peak_gemm n)^3 = $(fmt "$(jget "$json" peak_gemm tflops)" %.3g) TFLOP/s;" \
        "T5 encode: $(fmt "$(jget "$json" t5 ms)" %.1f) ms"
    [ -n "$torch_note" ] && echo "$torch_note" || echo "PyTorch $torch_version (bench/flux_torch.py)"
    echo
    echo "| size | fluxgraph ms/step | TFLOP/s | % of peak | peak GiB | VAE decode ms | torch eager ms | torch.compile ms | eager / fluxgraph | compile / fluxgraph |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    paste -d' ' <(jget "$json" sizes width) <(jget "$json" sizes ms_per_step) <(jget "$json" sizes tflops) \
        <(jget "$json" sizes percent_of_peak) <(jget "$json" sizes peak_memory_gib) <(jget "$json" sizes vae_decode_ms) |
        while read -r size ms tflops pct mem vae; do
            eager=$(torch_ms eager "$size"); compiled=$(torch_ms compile "$size")
            echo "| ${size}x${size} | $(fmt "$ms" %.1f) | $(fmt "$tflops" %.3g) | $(fmt "$pct" %.1f) | $(fmt "$mem" %.2f) |" \
                "$(fmt "$vae" %.1f) | $(fmt "$eager" %.1f) | $(fmt "$compiled" %.1f) | $(ratio "$eager" "$ms") |" \
                "$(ratio "$compiled" "$ms") |"
        done
    echo
    echo "Ratios above 1x: fluxgraph is faster than PyTorch by that factor."
} | tee "$out/table.md"
