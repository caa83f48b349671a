#!/usr/bin/env bash
# Regenerate the ComfyUI frontend ground-truth fixtures.
#
# usage: tools/frontend_fixtures/run.sh COMFYUI_SRC_DIR COMFYUI_COMMIT
#
#   COMFYUI_SRC_DIR  an unpacked ComfyUI source tree (this script fetches
#                    nothing from GitHub; see README.md for how to get it)
#   COMFYUI_COMMIT   the commit that tree was taken from (recorded only)
#
# environment (all optional):
#   FXGEN_WORK       scratch dir for venv, ComfyUI base dir, downloads
#                    (default /tmp/fxgen; never inside the repository)
#   FXGEN_TEMPLATES_VERSION   comfyui-workflow-templates-json version (0.1.123)
#   FXGEN_NEW_FRONTEND        a second comfyui-frontend-package version to
#                    compare against (e.g. 1.58.1); empty = skip
#   FXGEN_PORT       port for ComfyUI (8188); the comparison uses PORT+1
#
# Needs network access to PyPI (venv, templates, optional frontend) and,
# when Chromium is missing, to Debian apt.
set -euo pipefail

SRC=${1:?usage: run.sh COMFYUI_SRC_DIR COMFYUI_COMMIT}
COMMIT=${2:?usage: run.sh COMFYUI_SRC_DIR COMFYUI_COMMIT}
SRC=$(cd "$SRC" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${FXGEN_WORK:-/tmp/fxgen}
EXAMPLES="$REPO/tests/fixtures/workflows/comfyui_examples"
DEFS="$REPO/nodes/comfyui"
TPL_VER=${FXGEN_TEMPLATES_VERSION:-0.1.123}
NEW_FE=${FXGEN_NEW_FRONTEND:-}
PORT=${FXGEN_PORT:-8188}
FIX="$REPO/tests/fixtures"

TEMPLATES="flux1_dev_uso_reference_image_gen flux_canny_model_example
flux_kontext_dev_basic flux_fill_inpaint_example flux_schnell
flux_fill_outpaint_example image_flux.1_fill_dev_OneReward
flux_redux_model_example flux_depth_lora_example flux_dev_checkpoint_example
flux1_krea_dev flux_dev_full_text_to_image flux_schnell_full_text_to_image"

case "$WORK" in "$REPO"|"$REPO"/*) echo "FXGEN_WORK must be outside the repository" >&2; exit 1;; esac
mkdir -p "$WORK"
PY="$WORK/venv/bin/python"

# --- Chromium + chromedriver (Debian packages; selenium downloads nothing) --
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
  else
    echo "install the Debian packages chromium and chromium-driver first" >&2
    exit 1
  fi
fi

# --- venv with ComfyUI's requirements (torch from PyPI; CPU use only) ------
if [ ! -x "$PY" ]; then
  python3 -m venv "$WORK/venv"
fi
"$WORK/venv/bin/pip" install -q uv
"$WORK/venv/bin/uv" pip install --python "$PY" -q -r "$SRC/requirements.txt" selenium

# --- templates: FLUX.1 workflow templates, copied unchanged ----------------
mkdir -p "$WORK/dl"
"$WORK/venv/bin/pip" download -q --no-deps -d "$WORK/dl" \
  "comfyui-workflow-templates-json==$TPL_VER"
rm -rf "$WORK/dl/tj" && mkdir -p "$WORK/dl/tj"
"$PY" -m zipfile -e "$WORK/dl/comfyui_workflow_templates_json-$TPL_VER-py3-none-any.whl" "$WORK/dl/tj"
mkdir -p "$FIX/templates" "$DEFS" "$FIX/frontend/edge"
for t in $TEMPLATES; do
  cp "$WORK/dl/tj/comfyui_workflow_templates_json/templates/$t.json" "$FIX/templates/"
done

# --- ComfyUI server(s) -------------------------------------------------------
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_comfy() {  # port base_dir log [extra args]
  local port=$1 base=$2 log=$3; shift 3
  rm -rf "$base"
  mkdir -p "$base"/{custom_nodes,models,input,output,temp,user}
  (cd "$SRC" && exec "$PY" main.py --cpu --listen 127.0.0.1 --port "$port" \
      --disable-api-nodes --base-directory "$base" "$@" >"$log" 2>&1) &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$port/system_stats" >/dev/null; then return 0; fi
    sleep 1
  done
  echo "ComfyUI on port $port did not start; see $log" >&2
  exit 1
}

start_comfy "$PORT" "$WORK/base" "$WORK/comfy.log"
URL="http://127.0.0.1:$PORT"

# object_info, compact, in ComfyUI's own key order
curl -sf "$URL/object_info" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
sys.stdout.write(json.dumps(d, separators=(",", ":")))' >"$DEFS/object_info.json"
curl -sf "$URL/system_stats" >"$WORK/system_stats.json"

# frontend conversion of templates and examples, then the edge cases
# (built in the page, then the hand-written ones from handmade/)
"$PY" "$HERE/fxgen_driver.py" convert "$URL" "$FIX/frontend" \
  "$FIX"/templates/*.json "$EXAMPLES"/*.ui.json
rm -f "$FIX"/frontend/edge/*.json
"$PY" "$HERE/fxgen_driver.py" edge "$URL" "$FIX/frontend/edge"
# hand-written inputs in old/odd formats: copied beside their .api.json
"$PY" "$HERE/fxgen_driver.py" handmade "$URL" "$HERE/handmade" "$FIX/frontend/edge"

# optional: same inputs through a newer frontend (served by the same ComfyUI)
COMPARE_NOTE="not run"
if [ -n "$NEW_FE" ]; then
  "$WORK/venv/bin/pip" download -q --no-deps -d "$WORK/dl" "comfyui-frontend-package==$NEW_FE"
  rm -rf "$WORK/dl/fe-$NEW_FE" && mkdir -p "$WORK/dl/fe-$NEW_FE"
  "$PY" -m zipfile -e "$WORK/dl/comfyui_frontend_package-$NEW_FE-py3-none-any.whl" "$WORK/dl/fe-$NEW_FE"
  P2=$((PORT + 1))
  start_comfy "$P2" "$WORK/base2" "$WORK/comfy2.log" \
    --front-end-root "$WORK/dl/fe-$NEW_FE/comfyui_frontend_package/static"
  OUT2="$WORK/compare-$NEW_FE"
  rm -rf "$OUT2" && mkdir -p "$OUT2/edge"
  "$PY" "$HERE/fxgen_driver.py" convert "http://127.0.0.1:$P2" "$OUT2" \
    "$FIX"/templates/*.json "$EXAMPLES"/*.ui.json
  "$PY" "$HERE/fxgen_driver.py" convert "http://127.0.0.1:$P2" "$OUT2/edge" \
    "$FIX"/frontend/edge/*.ui.json
  {
    echo "# frontend $(cat "$FIX/frontend/_convert_report.json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["frontend"]["window_version"])') vs $NEW_FE"
    "$PY" "$HERE/fxgen_driver.py" compare "$FIX/frontend" "$OUT2"
    echo "# edge cases (the .ui.json built by the pinned frontend, loaded in $NEW_FE)"
    "$PY" "$HERE/fxgen_driver.py" compare "$FIX/frontend/edge" "$OUT2/edge"
  } >"$FIX/frontend/_compare_frontend_$NEW_FE.txt"
  COMPARE_NOTE="see frontend/_compare_frontend_$NEW_FE.txt"
fi

# --- VERSIONS.md ---------------------------------------------------------------
"$PY" - "$WORK/system_stats.json" "$COMMIT" "$TPL_VER" "$NEW_FE" "$COMPARE_NOTE" \
  "$DEFS/VERSIONS.md" "$FIX/frontend/_convert_report.json" <<'EOF'
import json, sys, datetime
stats, commit, tpl, new_fe, note, out, report = sys.argv[1:8]
s = json.load(open(stats))["system"]
pk = {p["name"]: p["installed"] for p in s.get("comfy_package_versions", [])}
rep = json.load(open(report))
lines = [
    "# Versions behind object_info.json and tests/fixtures/frontend",
    "",
    f"- ComfyUI: {s['comfyui_version']} at commit {commit}",
    f"- comfyui-frontend-package (pinned by ComfyUI's requirements.txt, served by ComfyUI): "
    f"{pk.get('comfyui-frontend-package', s.get('required_frontend_version'))}"
    f" (page reports {rep['frontend']['window_version']})",
    f"- comfyui-workflow-templates (pinned by ComfyUI): {pk.get('comfyui-workflow-templates')}",
    f"- templates copied from comfyui-workflow-templates-json {tpl} (PyPI)",
    f"- Python {s.get('python_version', '?').split()[0]}, pytorch {s.get('pytorch_version', '?')}",
    f"- browser: {rep['frontend']['user_agent']}",
    "- server flags: --cpu --disable-api-nodes, empty models/input directories",
    f"- newer frontend compared: {new_fe or 'none'} ({note})",
    f"- generated: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by tools/frontend_fixtures/run.sh",
    "",
]
open(out, "w").write("\n".join(lines))
EOF
echo "done"
