"""Synthetic edge-case workflows, built inside the running ComfyUI frontend
with its own graph APIs (LiteGraph.createNode, LGraph.convertToSubgraph,
LGraph.createReroute, node.mode, ...).

For every case the page builds the graph, then
  ui   = (await app.graphToPrompt()).workflow   # what the frontend embeds/saves
The ui JSON is then loaded back with app.loadGraphData() and converted again;
that second conversion is written as <name>.api.json, so each .api.json is
exactly what this frontend makes from the .ui.json file next to it.  Whether
the in-memory conversion and the reload conversion agree is recorded in
_edge_report.json.
"""
import json
import os

# Helpers installed as window.__fx before each case.
PRELUDE = r"""
window.__fx = (() => {
  const fx = {};
  fx.empty = {last_node_id: 0, last_link_id: 0, nodes: [], links: [],
              groups: [], config: {}, extra: {}, version: 0.4};
  fx.fresh = async () => {
    await app.loadGraphData(structuredClone(fx.empty), true, false);
    app.canvas.setGraph(app.rootGraph);
    return app.rootGraph;
  };
  fx.add = (g, type, pos, vals) => {
    const n = LiteGraph.createNode(type);
    if (!n) throw new Error('cannot create ' + type);
    n.pos = pos;
    g.add(n);
    for (const [k, v] of Object.entries(vals || {})) fx.set(n, k, v);
    return n;
  };
  fx.set = (n, name, v) => {
    const w = (n.widgets || []).find(w => w.name === name);
    if (!w) throw new Error(`no widget ${name} on ${n.type}#${n.id}: ` +
                            (n.widgets || []).map(w => w.name).join(','));
    w.value = v;
    w.callback?.(v);
  };
  fx.get = (n, name) => (n.widgets || []).find(w => w.name === name)?.value;
  fx.link = (a, outName, b, inName) => {
    const o = typeof outName === 'number' ? outName
      : a.outputs.findIndex(s => s.name === outName);
    const i = typeof inName === 'number' ? inName : b.findInputSlot(inName);
    if (o < 0 || i < 0) throw new Error(`bad slot ${a.type}.${outName} -> ${b.type}.${inName}`);
    const l = a.connect(o, b, i);
    if (!l) throw new Error(`connect failed ${a.type}.${outName} -> ${b.type}.${inName}`);
    return l;
  };
  // a plain txt2img graph in g, nodes placed from x0; with opts.lora also
  // a LoraLoader (n.lora, see fx.insertLora), added last
  fx.txt2img = (g, x0 = 0, opts = {}) => {
    const n = {};
    n.ckpt = fx.add(g, 'CheckpointLoaderSimple', [x0, 0], {ckpt_name: 'flux1-dev-fp8.safetensors'});
    n.pos = fx.add(g, 'CLIPTextEncode', [x0 + 400, 0], {text: opts.pos ?? 'a photo of a cat'});
    n.neg = fx.add(g, 'CLIPTextEncode', [x0 + 400, 250], {text: opts.neg ?? ''});
    n.lat = fx.add(g, 'EmptyLatentImage', [x0 + 400, 500], {width: 1024, height: 1024, batch_size: 1});
    n.ks = fx.add(g, 'KSampler', [x0 + 800, 0], {seed: opts.seed ?? 1234, steps: 20, cfg: 1.0,
                                           sampler_name: 'euler', scheduler: 'simple', denoise: 1.0});
    fx.set(n.ks, 'control_after_generate', opts.control ?? 'fixed');
    n.dec = fx.add(g, 'VAEDecode', [x0 + 1200, 0]);
    n.save = fx.add(g, 'SaveImage', [x0 + 1500, 0], {filename_prefix: opts.prefix ?? 'edge'});
    fx.link(n.ckpt, 'MODEL', n.ks, 'model');
    fx.link(n.ckpt, 'CLIP', n.pos, 'clip');
    fx.link(n.ckpt, 'CLIP', n.neg, 'clip');
    fx.link(n.pos, 'CONDITIONING', n.ks, 'positive');
    fx.link(n.neg, 'CONDITIONING', n.ks, 'negative');
    fx.link(n.lat, 'LATENT', n.ks, 'latent_image');
    fx.link(n.ks, 'LATENT', n.dec, 'samples');
    fx.link(n.ckpt, 'VAE', n.dec, 'vae');
    fx.link(n.dec, 'IMAGE', n.save, 'images');
    if (opts.lora) n.lora = fx.insertLora(g, n);
    return n;
  };
  // convert nodes (all in graph g) to a subgraph the way the UI does it:
  // with g shown on the canvas, so the 'subgraph-converted' hooks run
  // (they promote the recommended widgets).
  fx.toSubgraph = (g, nodes, name) => {
    app.canvas.setGraph(g);
    const r = g.convertToSubgraph(new Set(nodes));
    if (name) r.subgraph.name = name;
    app.canvas.setGraph(app.rootGraph);
    return r;  // {subgraph, node}
  };
  fx.inner = (sg, type, nth = 0) => sg.nodes.filter(n => n.type === type)[nth];
  // make the subgraph input `name` feed widget `wname` of inner node n
  fx.promote = (sg, n, wname, name) => {
    const w = n.widgets.find(w => w.name === wname);
    const slot = n.getSlotFromWidget(w);
    const si = sg.addInput(name ?? wname, String(slot.type ?? w.type));
    const l = si.connect(slot, n);
    if (!l) throw new Error('promote connect failed ' + wname);
    return si;
  };
  fx.hostInput = (host, name) => host.inputs.findIndex(i => i.name === name);
  // every case starts from an empty graph holding a txt2img (fx.txt2img opts)
  fx.start = async (opts) => {
    const g = await fx.fresh();
    return [g, fx.txt2img(g, 0, opts)];
  };
  // a LoraLoader between n.ckpt and the KSampler/encoders of a txt2img n
  fx.insertLora = (g, n) => {
    const lora = fx.add(g, 'LoraLoader', [200, 300], {lora_name: 'x.safetensors',
                        strength_model: 0.8, strength_clip: 0.6});
    fx.link(n.ckpt, 'MODEL', lora, 'model');
    fx.link(n.ckpt, 'CLIP', lora, 'clip');
    fx.link(lora, 'MODEL', n.ks, 'model');
    fx.link(lora, 'CLIP', n.pos, 'clip');
    fx.link(lora, 'CLIP', n.neg, 'clip');
    return lora;
  };
  // a PreviewImage on the output of n.dec
  fx.addPreview = (g, n) => {
    const prev = fx.add(g, 'PreviewImage', [1500, 300]);
    fx.link(n.dec, 'IMAGE', prev, 'images');
    return prev;
  };
  // one more KSampler (widget values vals, control_after_generate control)
  // on n's model and positive/negative conditioning; latent not linked
  fx.sampler = (g, n, pos, vals, control) => {
    const k = fx.add(g, 'KSampler', pos, vals);
    fx.set(k, 'control_after_generate', control);
    fx.link(n.ckpt, 'MODEL', k, 'model');
    fx.link(n.pos, 'CONDITIONING', k, 'positive');
    fx.link(n.neg, 'CONDITIONING', k, 'negative');
    return k;
  };
  // VAEDecode at [x, y] (vae from n.ckpt) after sampler ks, then a SaveImage
  fx.decodeSave = (g, n, ks, x, y, prefix) => {
    const dec = fx.add(g, 'VAEDecode', [x, y]);
    const save = fx.add(g, 'SaveImage', [x + 300, y], {filename_prefix: prefix});
    fx.link(ks, 'LATENT', dec, 'samples');
    fx.link(n.ckpt, 'VAE', dec, 'vae');
    fx.link(dec, 'IMAGE', save, 'images');
    return {dec, save};
  };
  return fx;
})();
"""

# name -> (description, JS body).  `fx` is window.__fx.
CASES = {}


def case(name, desc):
    def deco(js):
        CASES[name] = (desc, js)
        return js
    return deco


case("nested_subgraph_3_levels",
     "KSampler+VAEDecode+SaveImage inside a subgraph inside a subgraph inside "
     "a subgraph (3 levels); execution ids like 'A:B:C:n'.")(r"""
  const [g, n] = await fx.start({seed: 111});
  const L3 = fx.toSubgraph(g, [n.ks, n.dec, n.save], 'Level3');
  const L2 = fx.toSubgraph(g, [L3.node, n.lat], 'Level2');
  const L1 = fx.toSubgraph(g, [L2.node, n.neg], 'Level1');
""")

case("two_instances_same_definition",
     "One subgraph definition (CLIPTextEncode inside, text promoted) used "
     "twice at root with different promoted widget values.")(r"""
  const [g, n] = await fx.start({seed: 222, pos: 'PLACEHOLDER'});
  const A = fx.toSubgraph(g, [n.pos], 'Encode');
  // second instance of the same definition
  const B = LiteGraph.createNode(A.subgraph.id);
  B.pos = [400, 250];
  g.add(B);
  // replace the plain negative encoder with the second instance
  const clipFrom = n.ckpt;
  g.remove(n.neg);
  fx.link(clipFrom, 'CLIP', B, B.inputs.findIndex(i => i.type === 'CLIP'));
  fx.link(B, 0, n.ks, 'negative');
  // different promoted values
  const wa = A.node.widgets.find(w => w.name === 'text');
  const wb = B.widgets.find(w => w.name === 'text');
  if (!wa || !wb) throw new Error('promoted text widget missing: ' +
     A.node.widgets.map(w=>w.name) + ' / ' + B.widgets.map(w=>w.name));
  wa.value = 'instance A: a red fox';
  wb.value = 'instance B: blurry, low quality';
""")

case("bypass_inside_subgraph",
     "LoraLoader (mode 4, bypass) inside a subgraph between checkpoint and "
     "KSampler/CLIPTextEncode.")(r"""
  const [g, n] = await fx.start({seed: 333, lora: true});
  const S = fx.toSubgraph(g, [n.lora, n.pos, n.neg, n.ks], 'WithLora');
  fx.inner(S.subgraph, 'LoraLoader').mode = 4;
""")

case("bypass_nested_subgraph_instance",
     "Root subgraph containing a nested subgraph instance (a LoraLoader "
     "wrapped in its own subgraph) whose instance has mode 4 (bypass).")(r"""
  const [g, n] = await fx.start({seed: 444, lora: true});
  const inner = fx.toSubgraph(g, [n.lora], 'LoraWrap');
  const outer = fx.toSubgraph(g, [inner.node, n.pos, n.neg, n.ks], 'Outer');
  const wrapped = outer.subgraph.nodes.find(x => x.isSubgraphNode?.());
  wrapped.mode = 4;
""")

case("muted_nodes_inside_subgraph",
     "Inside a subgraph: a muted (mode 2) SaveImage next to an active "
     "PreviewImage, and a muted LoraLoader whose outputs feed the KSampler "
     "and encoders.")(r"""
  const [g, n] = await fx.start({seed: 555, lora: true});
  const prev = fx.addPreview(g, n);
  const S = fx.toSubgraph(g, [n.lora, n.pos, n.neg, n.ks, n.dec, n.save, prev], 'Muted');
  fx.inner(S.subgraph, 'SaveImage').mode = 2;
  fx.inner(S.subgraph, 'LoraLoader').mode = 2;
""")

case("muted_and_bypassed_subgraph_instances",
     "Root-level subgraph instances: one muted (mode 2) holding a "
     "PreviewImage branch, one bypassed (mode 4) holding a LoraLoader.")(r"""
  const [g, n] = await fx.start({seed: 556, lora: true});
  const prev = fx.addPreview(g, n);
  const L = fx.toSubgraph(g, [n.lora], 'LoraBox');
  const P = fx.toSubgraph(g, [prev], 'PreviewBox');
  L.node.mode = 4;
  P.node.mode = 2;
""")

case("native_reroute_chain",
     "Native reroutes (extra.reroutes, link parentId): a chain of two "
     "reroutes on MODEL, one on VAE, and a reroute inside a subgraph.")(r"""
  const [g, n] = await fx.start({seed: 666});
  const linkTo = (node, inName) => {
    const id = node.inputs[node.findInputSlot(inName)].link;
    return g.links.get ? g.links.get(id) : g.links[id];
  };
  const lm = linkTo(n.ks, 'model');
  const r1 = g.createReroute([500, -100], lm);
  const r2 = g.createReroute([700, -100], lm);
  const lv = linkTo(n.dec, 'vae');
  const r3 = g.createReroute([900, 400], lv);
  if (!r1 || !r2 || !r3) throw new Error('createReroute failed');
  // a second graph section inside a subgraph with its own reroute
  const S = fx.toSubgraph(g, [n.dec, n.save], 'DecodeSave');
  const sg = S.subgraph;
  const dec = fx.inner(sg, 'VAEDecode');
  const id = dec.inputs[dec.findInputSlot('samples')].link;
  const l2 = sg.links.get ? sg.links.get(id) : sg.links[id];
  const r4 = sg.createReroute([100, 100], l2);
  if (!r4) throw new Error('createReroute in subgraph failed');
""")

case("legacy_reroute_nodes",
     "Legacy frontend 'Reroute' nodes (virtual nodes, not native reroutes) "
     "on the MODEL and VAE paths, one of them chained.")(r"""
  const [g, n] = await fx.start({seed: 667});
  const ra = fx.add(g, 'Reroute', [600, -100]);
  const rb = fx.add(g, 'Reroute', [700, -100]);
  const rc = fx.add(g, 'Reroute', [900, 400]);
  fx.link(n.ckpt, 'MODEL', ra, 0);
  fx.link(ra, 0, rb, 0);
  fx.link(rb, 0, n.ks, 'model');
  fx.link(n.ckpt, 'VAE', rc, 0);
  fx.link(rc, 0, n.dec, 'vae');
""")

case("primitive_node_two_targets",
     "Frontend PrimitiveNode (virtual) feeding the seed widget of two "
     "KSamplers; a second PrimitiveNode feeding 'steps' of both.")(r"""
  const [g, n] = await fx.start({seed: 1});
  const ks2 = fx.sampler(g, n, [800, 500], {seed: 2, steps: 10, cfg: 1.0,
                     sampler_name: 'euler', scheduler: 'simple', denoise: 0.5}, 'fixed');
  fx.link(n.ks, 'LATENT', ks2, 'latent_image');
  fx.decodeSave(g, n, ks2, 1200, 500, 'second');
  const p = fx.add(g, 'PrimitiveNode', [400, 700]);
  fx.link(p, 0, n.ks, 'seed');
  fx.link(p, 0, ks2, 'seed');
  // the PrimitiveNode names its widget after the first target widget
  const pv = p.widgets[0];
  pv.value = 987654321;
  const pc = p.widgets.find(w => w.name === 'control_after_generate');
  if (pc) pc.value = 'fixed';
  const q = fx.add(g, 'PrimitiveNode', [400, 900]);
  fx.link(q, 0, n.ks, 'steps');
  fx.link(q, 0, ks2, 'steps');
  q.widgets[0].value = 7;
""")

case("primitive_backend_nodes",
     "Backend PrimitiveInt/PrimitiveFloat/PrimitiveString nodes feeding "
     "widget inputs (width/height, cfg, text).")(r"""
  const [g, n] = await fx.start({seed: 777});
  const pi = fx.add(g, 'PrimitiveInt', [0, 500], {value: 768});
  const pf = fx.add(g, 'PrimitiveFloat', [0, 650], {value: 3.5});
  const ps = fx.add(g, 'PrimitiveString', [0, 800], {value: 'text from PrimitiveString'});
  fx.link(pi, 0, n.lat, 'width');
  fx.link(pi, 0, n.lat, 'height');
  fx.link(pf, 0, n.ks, 'cfg');
  fx.link(ps, 0, n.pos, 'text');
""")

case("subgraph_output_to_subgraph_input",
     "Two subgraphs at root: 'Loaders' (checkpoint + encoders) whose outputs "
     "feed the inputs of 'Sampler' (KSampler + VAEDecode).")(r"""
  const [g, n] = await fx.start({seed: 888});
  fx.toSubgraph(g, [n.ckpt, n.pos, n.neg], 'Loaders');
  fx.toSubgraph(g, [n.ks, n.dec], 'Sampler');
""")

case("subgraph_input_to_inner_widget",
     "Subgraph inputs that feed inner widgets: 'steps' linked from an outer "
     "PrimitiveInt, 'denoise' left unlinked (promoted widget value on the "
     "instance), plus the auto-promoted seed.")(r"""
  const [g, n] = await fx.start({seed: 999});
  const S = fx.toSubgraph(g, [n.ks, n.dec], 'SamplerBox');
  const ks = fx.inner(S.subgraph, 'KSampler');
  fx.promote(S.subgraph, ks, 'steps');
  fx.promote(S.subgraph, ks, 'denoise');
  const pi = fx.add(g, 'PrimitiveInt', [400, 800], {value: 12});
  fx.link(pi, 0, S.node, fx.hostInput(S.node, 'steps'));
  const wd = S.node.widgets.find(w => w.name === 'denoise');
  if (!wd) throw new Error('no promoted denoise widget: ' + S.node.widgets.map(w => w.name));
  wd.value = 0.75;
  const ws = S.node.widgets.find(w => w.name === 'seed');
  if (ws) ws.value = 4242;
""")

case("control_after_generate_randomize",
     "Seeds whose control_after_generate is 'randomize' / 'increment' (root "
     "KSampler and a KSampler inside a subgraph): graphToPrompt and "
     "loadGraphData must not change them.")(r"""
  const [g, n] = await fx.start({seed: 123456789012345, control: 'randomize'});
  const ks2 = fx.sampler(g, n, [800, 500], {seed: 55, steps: 10, cfg: 1.0,
                     sampler_name: 'euler', scheduler: 'simple', denoise: 0.5}, 'increment');
  fx.link(n.ks, 'LATENT', ks2, 'latent_image');
  const {dec: dec2, save: save2} = fx.decodeSave(g, n, ks2, 1200, 500, 'second');
  fx.toSubgraph(g, [ks2, dec2, save2], 'Second');
""")


case("bypass_slot_matching",
     "Root-level bypass rules: a bypassed ConditioningCombine (output goes to "
     "the same-index input), two chained bypassed KSamplers (LATENT output "
     "resolves to the first LATENT input, latent_image), and a bypassed "
     "EmptyLatentImage (no input of a matching type).")(r"""
  const [g, n] = await fx.start({seed: 1357});
  const cc = fx.add(g, 'ConditioningCombine', [600, -200]);
  fx.link(n.pos, 'CONDITIONING', cc, 'conditioning_1');
  fx.link(n.neg, 'CONDITIONING', cc, 'conditioning_2');
  fx.link(cc, 'CONDITIONING', n.ks, 'positive');
  cc.mode = 4;
  const mk = (seed, x) => fx.sampler(g, n, [x, 400], {seed, steps: 5, cfg: 1.0,
                     sampler_name: 'euler', scheduler: 'simple', denoise: 0.4}, 'fixed');
  const k2 = mk(2, 1000), k3 = mk(3, 1200);
  fx.link(n.ks, 'LATENT', k2, 'latent_image');
  fx.link(k2, 'LATENT', k3, 'latent_image');
  fx.link(k3, 'LATENT', n.dec, 'samples');
  k2.mode = 4;
  k3.mode = 4;
  // a second sampler whose latent comes from a bypassed EmptyLatentImage
  const lat2 = fx.add(g, 'EmptyLatentImage', [400, 800], {width: 512, height: 512, batch_size: 1});
  const k4 = mk(4, 1000);
  fx.link(lat2, 'LATENT', k4, 'latent_image');
  fx.decodeSave(g, n, k4, 1400, 800, 'nolatent');
  lat2.mode = 4;
""")

case("subgraph_unlinked_input",
     "A subgraph instance whose CLIP input is left unconnected (the inner "
     "CLIPTextEncode gets no clip input in the prompt).")(r"""
  const [g, n] = await fx.start({seed: 2468});
  const S = fx.toSubgraph(g, [n.neg], 'NegEncode');
  const i = S.node.inputs.findIndex(x => x.type === 'CLIP');
  S.node.disconnectInput(i);
""")

case("primitive_node_inside_subgraph",
     "Frontend PrimitiveNodes feeding KSampler.seed and .steps, moved into a "
     "subgraph together; seed primitive set through its widget callback "
     "(31337), steps primitive set without (9, target keeps 20).")(r"""
  const [g, n] = await fx.start({seed: 1});
  const p = fx.add(g, 'PrimitiveNode', [600, 600]);
  fx.link(p, 0, n.ks, 'seed');
  p.widgets[0].value = 31337;
  const pc = p.widgets.find(w => w.name === 'control_after_generate');
  if (pc) pc.value = 'fixed';
  const q = fx.add(g, 'PrimitiveNode', [600, 800]);
  fx.link(q, 0, n.ks, 'steps');
  q.widgets[0].value = 9;
  const S = fx.toSubgraph(g, [p, q, n.ks], 'PrimInside');
  // conversion re-creates the nodes; the primitives come back holding the
  // target's values.  Set them again inside the subgraph: the first through
  // its widget callback (as the UI does, which copies the value into the
  // KSampler widget at once), the second without (only graphToPrompt's
  // applyToGraph pass could copy it).
  const [pi1, pi2] = S.subgraph.nodes.filter(x => x.type === 'PrimitiveNode');
  pi1.widgets[0].value = 31337;
  pi1.widgets[0].callback?.(31337);
  pi2.widgets[0].value = 9;
""")


# cases whose graph is also saved in the version-1 schema
# (LGraph.asSerialisable(): links as objects) as schema_v1__<name>
V1_OF = ["nested_subgraph_3_levels", "two_instances_same_definition",
         "native_reroute_chain"]



def _stale_targets(ui):
    """Hand edit (not built in the page): give every KSampler that a
    PrimitiveNode feeds widget values that differ from the primitive's, as
    a file edited outside the editor would have.  Shows which value the
    frontend sends."""
    graphs = [ui] + list((ui.get("definitions") or {}).get("subgraphs") or [])
    for g in graphs:
        for n in g.get("nodes", []):
            if n.get("type") == "KSampler":
                wv = n["widgets_values"]
                wv[0] = 1   # seed
                wv[2] = 20  # steps
    return ui


# derived name -> (base case, python edit of the base case's .ui.json, text)
DERIVED = {
    "primitive_node_two_targets__stale_targets": (
        "primitive_node_two_targets", _stale_targets,
        "primitive_node_two_targets with the KSamplers' own seed/steps widget "
        "values edited to 1/20 in the file (hand edit); the PrimitiveNode "
        "values (987654321/7) still win."),
    "primitive_node_inside_subgraph__stale_targets": (
        "primitive_node_inside_subgraph", _stale_targets,
        "primitive_node_inside_subgraph with the inner KSampler's seed/steps "
        "widget values edited to 1/20 in the file (hand edit)."),
}

JS_BUILD = r"""
  const fx = window.__fx;
  await (async () => { %s })();
  const p = await app.graphToPrompt();
  const v1 = app.rootGraph.asSerialisable();
  return {ui: JSON.stringify(p.workflow), api: JSON.stringify(p.output),
          v1: JSON.stringify(v1)};
"""

JS_RELOAD = r"""
  const [text] = args;
  await app.loadGraphData(JSON.parse(text), true, false, null, {});
  const p = await app.graphToPrompt();
  return {api: JSON.stringify(p.output), ui: JSON.stringify(p.workflow)};
"""


def _dump(path, obj):
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def build_all(drv, outdir, run_js, only=None):
    report = {}
    for name, (desc, body) in CASES.items():
        if only and name not in only:
            continue
        try:
            drv.execute_script(PRELUDE)
            r = run_js(drv, JS_BUILD % body)
        except Exception as e:  # keep going; record the failure
            report[name] = {"description": desc, "error": str(e)[:2000]}
            print(f"{name}: ERROR {str(e)[:300]}", flush=True)
            continue
        variants = [(name, r["ui"])]
        if name in V1_OF:
            variants.append(("schema_v1__" + name, r["v1"]))
        for dname, (base, edit, _) in DERIVED.items():
            if base == name:
                variants.append((dname, json.dumps(edit(json.loads(r["ui"])))))
        mem_api = json.loads(r["api"])
        for vname, ui_text in variants:
            rr = run_js(drv, JS_RELOAD, ui_text)
            api = json.loads(rr["api"])
            ui = json.loads(ui_text)
            _dump(os.path.join(outdir, vname + ".ui.json"), ui)
            _dump(os.path.join(outdir, vname + ".api.json"), api)
            if vname == name:
                vdesc = desc
            elif vname in DERIVED:
                vdesc = DERIVED[vname][2]
            else:
                vdesc = "version-1 schema save (LGraph.asSerialisable) of " + name
            report[vname] = {
                "description": vdesc,
                "ui_version": ui.get("version"),
                "api_ids": list(api.keys()),
                "reload_equals_in_memory": api == mem_api,
                "reload_equals_in_memory_ordered":
                    list(api.items()) == list(mem_api.items()),
            }
            if api != mem_api:
                report[vname]["in_memory_api"] = mem_api
            print(f"{vname}: {len(api)} api nodes, reload==memory: "
                  f"{api == mem_api}", flush=True)
    _dump(os.path.join(outdir, "_edge_report.json"), report)
    return report


# --- hand-written inputs (tools/frontend_fixtures/handmade/) ---------------
# These files are written by hand in older or odd formats; the point is how
# this frontend *loads* them.  Each is loaded with loadGraphData exactly like
# `convert`, while console warnings/errors and any dialog texts are recorded.

HANDMADE = {
    "group_node_simple":
        "legacy group node: extra.groupNodes.MyGroup (inner CLIPTextEncode x2 "
        "+ KSampler, links as [originIndex, originSlot, targetIndex, "
        "targetSlot, originId, type], external [[2, 0, 'LATENT']]) and one "
        "root instance of type 'workflow>MyGroup' whose widgets_values (old "
        "frontend layout, 9 values incl. sampler_name/scheduler) differ from "
        "the inner nodes' values; root nodes on both sides",
    "group_node_legacy_slash":
        "group_node_simple with the pre-1.2.63 type name 'workflow/MyGroup'",
    "group_node_two_instances":
        "two root instances of one group definition with different widget "
        "values, each with its own VAEDecode/SaveImage",
    "group_node_bypassed":
        "group_node_simple with the group node instance at mode 4 (bypass)",
    "subgraph_id_collision":
        "schema 0.4 file with two subgraph definitions: PosEncode's inner "
        "node 2 collides with root node 2; NegEncode's inner node 20 collides "
        "with PosEncode's node 20 and its node 6 with the root subgraph "
        "instance 6",
    "widgets_values_object":
        "widgets_values stored as objects keyed by widget name (KSampler, "
        "EmptyLatentImage with keys out of order, CheckpointLoaderSimple, one "
        "CLIPTextEncode)",
    "widgets_values_short_and_long":
        "KSampler with 4 of 7 widget values, EmptyLatentImage with 5 values "
        "for 3 widgets, CLIPTextEncode with widgets_values []",
    "legacy_force_input_layout":
        "SaveText (text is a forceInput STRING) stored the old way: a "
        "widget-converted input {widget: {name: 'text'}} and widgets_values "
        "['', prefix, format] with a slot for text; a second SaveText in "
        "the current layout [prefix, format]",
    "muted_primitive_node":
        "frontend PrimitiveNode with mode 2 (muted) linked to KSampler.seed "
        "(old layout: seed input at the end of inputs), plus legacy Reroute "
        "nodes: a chain of two for MODEL and one for VAE",
    "unknown_node_type":
        "txt2img with a node of a type that does not exist "
        "(FancyUpscaleNotInstalled, 2 widget values) between VAEDecode and "
        "SaveImage",
    "stale_link_id":
        "txt2img whose VAEDecode.vae input refers to link 99, which is not in "
        "the links array",
    "link_from_missing_node":
        "txt2img whose VAEDecode.vae comes through link 9 from node 77, which "
        "does not exist",
    "link_from_missing_output_slot":
        "txt2img whose VAEDecode.vae comes through link 9 from output 7 of the "
        "CheckpointLoaderSimple, which has 3 outputs",
    "dynamic_prompts_deterministic":
        "txt2img whose positive CLIPTextEncode text uses dynamic prompt "
        "syntax: {cat}, // and /* */ comments, nested {red|red|{red|red}}, "
        "escaped \\{x\\}, a URL, \\r\\n, a block {unclosed\\nend |unclosed\\nend } "
        "across a newline, then 'stray brace' and a trailing backslash; every "
        "choice block has identical options, so the result is deterministic. "
        "Negative text 'plain text, no syntax'",
}

JS_HANDMADE = r"""
  const [text] = args;
  const logs = [];
  const orig = {warn: console.warn, error: console.error};
  for (const k of ['warn', 'error']) {
    console[k] = (...a) => {
      try {
        logs.push(k + ': ' + a.map(x => x instanceof Error ? String(x.stack || x)
          : (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(' ').slice(0, 600));
      } catch (e) { logs.push(k + ': <unprintable>') }
      orig[k].apply(console, a);
    };
  }
  let loadError = null, promptError = null, p = null, afterLoad = null;
  try {
    try {
      await app.loadGraphData(JSON.parse(text), true, true, null, {});
    } catch (e) { loadError = String(e && e.stack || e) }
    const dialogs = [...document.querySelectorAll('.p-dialog')]
      .map(d => d.innerText.slice(0, 1500));
    for (const b of document.querySelectorAll(
        '.p-dialog .p-dialog-close-button, .p-dialog-header-close')) {
      try { b.click() } catch (e) {}
    }
    afterLoad = app.rootGraph.serialize();
    // the temporary node types registered for legacy group nodes: which
    // inputs became widgets (values are read from the instance in this order)
    const groupTypes = {};
    for (const g of Object.keys(JSON.parse(text)?.extra?.groupNodes ?? {})) {
      const t = 'workflow>' + g;
      const ctor = LiteGraph.registered_node_types[t];
      if (!ctor) { groupTypes[t] = null; continue }
      const n = LiteGraph.createNode(t);
      groupTypes[t] = {
        inputs: (n?.inputs ?? []).map(i => i.name + (i.widget ? ' (widget)' : '')),
        widgets: (n?.widgets ?? []).map(w => w.name),
        outputs: (n?.outputs ?? []).map(o => o.name)};
    }
    try { p = await app.graphToPrompt() } catch (e) {
      promptError = String(e && e.stack || e) }
    return {output: p ? JSON.stringify(p.output) : null,
            afterLoad: JSON.stringify(afterLoad), loadError, promptError,
            dialogs, logs, groupTypes};
  } finally {
    console.warn = orig.warn; console.error = orig.error;
  }
"""


def _summary(wf):
    """Nodes of a serialised graph, short: where each node ended up."""
    def nodes(g):
        return [{"id": n.get("id"), "type": n.get("type"), "mode": n.get("mode"),
                 "widgets_values": n.get("widgets_values")}
                for n in g.get("nodes", []) or []]
    out = {"root": nodes(wf)}
    for sg in ((wf.get("definitions") or {}).get("subgraphs") or []):
        out["subgraph " + str(sg.get("name")) + " " + str(sg.get("id"))] = nodes(sg)
    if (wf.get("extra") or {}).get("groupNodes") is not None:
        out["extra.groupNodes"] = list(wf["extra"]["groupNodes"])
    return out


def _reload_page(drv):
    """Reload the page and wait until the app is ready again (as open_browser)."""
    import time
    drv.refresh()
    t0 = time.time()
    while not drv.execute_script(
            "return !!(window.app && window.app.rootGraph && window.app.canvas"
            " && window.LiteGraph && Object.keys(LiteGraph.registered_node_types)"
            ".length > 100)"):
        if time.time() - t0 > 180:
            raise SystemExit("frontend did not become ready after reload")
        time.sleep(0.5)
    time.sleep(3)
    drv.execute_script("""
      for (const b of document.querySelectorAll(
          '.p-dialog .p-dialog-close-button, .p-dialog-header-close')) {
        try { b.click() } catch (e) {}
      }""")


def convert_handmade(drv, indir, outdir, run_js):
    import glob
    import shutil
    report = {}
    for path in sorted(glob.glob(os.path.join(indir, "*.ui.json"))):
        name = os.path.basename(path)[: -len(".ui.json")]
        with open(path) as fh:
            text = fh.read()
        json.loads(text)  # hand-written: at least valid JSON
        shutil.copyfile(path, os.path.join(outdir, name + ".ui.json"))
        api_path = os.path.join(outdir, name + ".api.json")
        if os.path.exists(api_path):
            os.remove(api_path)
        entry = {"description": HANDMADE.get(name, "")}
        _reload_page(drv)  # a case that breaks the graph must not leak into the next
        try:
            r = run_js(drv, JS_HANDMADE, text)
        except Exception as e:  # the page itself failed
            entry["error"] = str(e)[:3000]
            report[name] = entry
            print(f"{name}: ERROR {str(e)[:300]}", flush=True)
            continue
        for k in ("loadError", "promptError"):
            if r[k]:
                entry[k] = r[k][:3000]
        entry["dialogs"] = r["dialogs"]
        entry["console"] = r["logs"]
        if r["groupTypes"]:
            entry["group_node_types"] = r["groupTypes"]
        after = json.loads(r["afterLoad"])
        entry["after_load"] = _summary(after)
        if r["output"] is None or r["loadError"]:
            entry["error"] = r["loadError"] or r["promptError"]
            print(f"{name}: ERROR {entry['error'][:300]}", flush=True)
        else:
            api = json.loads(r["output"])
            _dump(api_path, api)
            entry["api_ids"] = list(api.keys())
            print(f"{name}: {len(api)} api nodes, {len(r['logs'])} console "
                  f"messages, {len(r['dialogs'])} dialogs", flush=True)
        report[name] = entry
    _dump(os.path.join(outdir, "_handmade_report.json"), report)
    return report
