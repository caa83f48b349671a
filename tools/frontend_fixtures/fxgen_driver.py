#!/usr/bin/env python3
"""Drive the ComfyUI web frontend (headless Chromium) to record how it turns
UI workflows into API prompts.

Subcommands
  settings  URL                       pre-seed user settings (no dialogs)
  convert   URL OUTDIR FILE...        for each workflow FILE: loadGraphData,
                                      graphToPrompt, write OUTDIR/<stem>.api.json
                                      plus OUTDIR/_convert_report.json
  edge      URL OUTDIR                build the synthetic edge-case workflows
                                      with the frontend's own APIs and write
                                      <name>.ui.json + <name>.api.json
  handmade  URL INDIR OUTDIR           load each hand-written INDIR/<case>.ui.json
                                      (old/odd formats), copy it to OUTDIR and
                                      write OUTDIR/<case>.api.json, or the error
                                      in OUTDIR/_handmade_report.json
  info      URL                       print frontend version as seen by the page
  compare   DIR_A DIR_B               compare the *.api.json of two runs (e.g.
                                      two frontend versions); prints a summary

Only the Python standard library and selenium are used; Chromium and
chromedriver are the Debian packages (/usr/bin/chromium, /usr/bin/chromedriver).
"""
import json
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = os.environ.get("FXGEN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FXGEN_CHROMEDRIVER", "/usr/bin/chromedriver")

# Settings that only silence UI dialogs/tours; none of them is read by
# graphToPrompt.
QUIET_SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "Comfy.Workflow.ShowMissingModelsWarning": False,
    "Comfy.Workflow.ShowMissingNodesWarning": False,
    "Comfy.Validation.Workflows": True,  # the default, stated explicitly
}


def seed_settings(url):
    body = json.dumps(QUIET_SETTINGS).encode()
    req = urllib.request.Request(url.rstrip("/") + "/api/settings", data=body,
                                 method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()


def open_browser(url):
    opts = Options()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1600,1000",
              "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER),
                           options=opts)
    drv.set_script_timeout(120)
    drv.get(url)
    t0 = time.time()
    while True:
        ok = drv.execute_script(
            "return !!(window.app && window.app.rootGraph && window.app.canvas"
            " && window.LiteGraph && Object.keys(LiteGraph.registered_node_types)"
            ".length > 100)")
        if ok:
            break
        if time.time() - t0 > 180:
            raise SystemExit("frontend did not become ready")
        time.sleep(0.5)
    time.sleep(3)  # let extensions finish their setup hooks
    close_dialogs(drv)
    return drv


def close_dialogs(drv):
    drv.execute_script("""
      for (const b of document.querySelectorAll(
          '.p-dialog .p-dialog-close-button, .p-dialog-header-close')) {
        try { b.click() } catch (e) {}
      }""")


def run_js(drv, body, *args):
    """Run an async JS function body; it must `return` a JSON-able value.
    Errors come back as {"__error": ...}."""
    script = (
        "const done = arguments[arguments.length-1];"
        "const args = Array.prototype.slice.call(arguments, 0, -1);"
        "(async (...args) => {" + body + "})(...args)"
        ".then(r => done(JSON.stringify({ok: r === undefined ? null : r})))"
        ".catch(e => done(JSON.stringify({__error: String(e && e.stack || e)})));"
    )
    res = json.loads(drv.execute_async_script(script, *args))
    if "__error" in res:
        raise RuntimeError(res["__error"])
    return res["ok"]


def frontend_info(drv):
    return run_js(drv, """
      const v = window.__COMFYUI_FRONTEND_VERSION__ ??
        (window.comfyAPI?.api?.api?.getServerFeatures ? null : null);
      let about = null;
      try { about = await (await fetch('/api/system_stats')).json() } catch (e) {}
      return {window_version: v ?? null,
              required_frontend_version: about?.system?.required_frontend_version ?? null,
              comfyui_version: about?.system?.comfyui_version ?? null,
              user_agent: navigator.userAgent}""")


# JS helpers shared by convert/edge: serialize root graph, prompt output.
JS_LOAD_AND_CONVERT = """
  const [wfText] = args;
  const wf = JSON.parse(wfText);
  await app.loadGraphData(wf, true, true, null, {});
  // dialogs (missing models etc.) are DOM only; close whatever opened
  for (const b of document.querySelectorAll(
      '.p-dialog .p-dialog-close-button, .p-dialog-header-close')) {
    try { b.click() } catch (e) {}
  }
  const afterLoad = app.rootGraph.serialize();
  const p = await app.graphToPrompt();
  const afterPrompt = app.rootGraph.serialize();
  return {output: JSON.stringify(p.output),
          workflow: JSON.stringify(p.workflow),
          afterLoad: JSON.stringify(afterLoad),
          afterPrompt: JSON.stringify(afterPrompt)};
"""


def load_ordered(s):
    return json.loads(s)  # dicts keep insertion order == JS key order


def all_nodes(wf):
    """(scope, node) for root nodes and nodes in subgraph definitions."""
    for n in wf.get("nodes", []) or []:
        yield "root", n
    for sg in ((wf.get("definitions") or {}).get("subgraphs") or []):
        for n in sg.get("nodes", []) or []:
            yield sg.get("id", "?"), n


def widget_diffs(before, after):
    a = {(s, str(n.get("id"))): n for s, n in all_nodes(before)}
    b = {(s, str(n.get("id"))): n for s, n in all_nodes(after)}
    diffs = []
    for k, n in a.items():
        m = b.get(k)
        if m is None:
            diffs.append({"node": list(k), "type": n.get("type"),
                          "what": "missing after"})
            continue
        wa, wb = n.get("widgets_values"), m.get("widgets_values")
        if wa != wb:
            diffs.append({"node": list(k), "type": n.get("type"),
                          "before": wa, "after": wb})
    for k, m in b.items():
        if k not in a:
            diffs.append({"node": list(k), "type": m.get("type"),
                          "what": "added after"})
    return diffs


def seed_check(src, api):
    """Compare seed-like widget values of the file with the API prompt."""
    out = []
    for node_id, entry in api.items():
        for name in ("seed", "noise_seed"):
            if name in entry.get("inputs", {}):
                v = entry["inputs"][name]
                out.append({"id": node_id, "class_type": entry["class_type"],
                            "input": name, "api": v})
    # the file's values: look them up by id (root) or "a:b" path (subgraph)
    return out


def stem_of(path):
    b = os.path.basename(path)
    for suf in (".ui.json", ".json"):
        if b.endswith(suf):
            return b[: -len(suf)]
    return b


def cmd_convert(url, outdir, files):
    os.makedirs(outdir, exist_ok=True)
    drv = open_browser(url)
    report = {"frontend": frontend_info(drv), "files": {}}
    try:
        for f in files:
            with open(f) as fh:
                text = fh.read()
            src = json.loads(text)
            r = run_js(drv, JS_LOAD_AND_CONVERT, text)
            out = load_ordered(r["output"])
            after_load = json.loads(r["afterLoad"])
            after_prompt = json.loads(r["afterPrompt"])
            stem = stem_of(f)
            with open(os.path.join(outdir, stem + ".api.json"), "w") as fh:
                json.dump(out, fh, indent=1, ensure_ascii=False)
                fh.write("\n")
            report["files"][stem] = {
                "source": os.path.basename(f),
                "api_nodes": len(out),
                "api_ids": list(out.keys()),
                "load_changed_widgets": widget_diffs(src, after_load),
                "prompt_changed_widgets": widget_diffs(after_load, after_prompt),
                "seeds": seed_check(src, out),
            }
            print(f"{stem}: {len(out)} nodes, load diffs="
                  f"{len(report['files'][stem]['load_changed_widgets'])}, "
                  f"prompt diffs={len(report['files'][stem]['prompt_changed_widgets'])}",
                  flush=True)
    finally:
        drv.quit()
    with open(os.path.join(outdir, "_convert_report.json"), "w") as fh:
        json.dump(report, fh, indent=1)
        fh.write("\n")


def cmd_edge(url, outdir):
    import fxgen_edge  # edge-case builders (JS snippets), same directory
    os.makedirs(outdir, exist_ok=True)
    drv = open_browser(url)
    try:
        fxgen_edge.build_all(drv, outdir, run_js)
    finally:
        drv.quit()


def cmd_handmade(url, indir, outdir):
    import fxgen_edge  # case descriptions and the load JS live there
    os.makedirs(outdir, exist_ok=True)
    drv = open_browser(url)
    try:
        fxgen_edge.convert_handmade(drv, indir, outdir, run_js)
    finally:
        drv.quit()


def cmd_compare(a, b):
    """Print, per file, whether two runs agree.  _meta.cnr_id/_meta.ver
    (copied by newer frontends from node properties) are reported but
    otherwise ignored."""
    import glob
    for f in sorted(glob.glob(os.path.join(a, "*.api.json"))):
        n = os.path.basename(f)
        g = os.path.join(b, n)
        if not os.path.exists(g):
            print(f"{n}: only in {a}")
            continue
        with open(f) as fa, open(g) as fb:
            A, B = json.load(fa), json.load(fb)
        meta_a = sum(1 for v in A.values() if set(v.get("_meta", {})) - {"title"})
        meta_b = sum(1 for v in B.values() if set(v.get("_meta", {})) - {"title"})

        def strip(d):
            d = json.loads(json.dumps(d))
            for v in d.values():
                m = v.get("_meta", {})
                m.pop("cnr_id", None)
                m.pop("ver", None)
            return d
        sa, sb = strip(A), strip(B)
        notes = []
        if list(A) != list(B):
            notes.append("node id order differs")
        for k in list(sa) + [k for k in sb if k not in sa]:
            if sa.get(k) != sb.get(k):
                notes.append(f"  {k}: {json.dumps(sa.get(k))[:300]}\n   != {json.dumps(sb.get(k))[:300]}")
        state = "identical" if A == B else (
            "same except _meta.cnr_id/_meta.ver" if not notes else "DIFFERENT")
        print(f"{n}: {state} (nodes with extra _meta keys: {meta_a} vs {meta_b})")
        for x in notes:
            print("   " + x)


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    cmd, url = argv[1], argv[2]
    if cmd == "compare":
        cmd_compare(argv[2], argv[3])
    elif cmd == "settings":
        seed_settings(url)
    elif cmd == "convert":
        seed_settings(url)
        cmd_convert(url, argv[3], argv[4:])
    elif cmd == "edge":
        seed_settings(url)
        cmd_edge(url, argv[3])
    elif cmd == "handmade":
        seed_settings(url)
        cmd_handmade(url, argv[3], argv[4])
    elif cmd == "info":
        drv = open_browser(url)
        try:
            print(json.dumps(frontend_info(drv), indent=1))
        finally:
            drv.quit()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main(sys.argv)
