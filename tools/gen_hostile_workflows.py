#!/usr/bin/env python3
"""Writes tests/hostile_workflows/: malformed and malicious workflows, each with the
substring its error must contain (EXPECTED.txt, "file<TAB>substring"). Test data generator
only; the product and the tests never run Python."""
import json, os, struct, zlib

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "hostile_workflows")
expected = []


def base():
    """A small valid FLUX API prompt to break in one place."""
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "clip_l.safetensors", "clip_name2": "t5.safetensors", "type": "flux"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["2", 0]}},
        "4": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "5": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 1, "steps": 20, "cfg": 1.0, "sampler_name": "euler",
                                                    "scheduler": "simple", "positive": ["3", 0], "negative": ["3", 0],
                                                    "latent_image": ["4", 0], "denoise": 1.0}},
        "6": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "7": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["6", 0]}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": "ComfyUI"}},
    }


def raw(name, text, needle):
    with open(os.path.join(OUT, name), "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    expected.append((name, needle))


def api(name, needle, node=None, inp=None, value=None, mutate=None):
    p = base()
    if node is not None:
        p[node]["inputs"][inp] = value
    if mutate:
        mutate(p)
    raw(name, json.dumps(p), needle)


def ui(name, needle, nodes, links):
    raw(name, json.dumps({"last_node_id": 9, "last_link_id": 9, "nodes": nodes, "links": links, "version": 0.4}), needle)


def png(name, chunks, needle):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    for c in chunks:
        data += c if isinstance(c, bytes) and not isinstance(c, tuple) else chunk(*c)
    raw(name, data, needle)


def main():
    os.makedirs(OUT, exist_ok=True)
    # --- not JSON / not a workflow
    raw("empty.json", "", "invalid JSON")
    raw("truncated.json", '{"1": {"class_type": "SaveImage"', "invalid JSON")
    raw("garbage.json", "\x00\x01binary", "invalid JSON")
    raw("array.json", "[1, 2, 3]", "must be a JSON object")
    raw("string.json", '"hello"', "must be a JSON object")
    raw("number.json", "42", "must be a JSON object")
    raw("deep_nesting.json", "[" * 100000 + "]" * 100000, "invalid JSON")
    raw("deep_object.json", '{"a":' * 5000 + "1" + "}" * 5000, "invalid JSON")
    raw("duplicate_keys.json", '{"1": {"class_type": "SaveImage", "inputs": {}}, "1": {}}', "invalid JSON")
    raw("nan_value.json", json.dumps(base()).replace('"cfg": 1.0', '"cfg": NaN'), "NaN and Infinity")
    raw("infinity_value.json", json.dumps(base()).replace('"cfg": 1.0', '"cfg": Infinity'), "NaN and Infinity")
    raw("huge_exponent.json", json.dumps(base()).replace('"cfg": 1.0', '"cfg": 1e999'), "out of range")
    raw("neither_format.json", '{"foo": 1}', "neither an API prompt")
    raw("empty_object.json", "{}", "Prompt has no outputs")
    # --- class types
    api("missing_class_type.json", "has no class_type. The workflow may be corrupted", mutate=lambda p: p["3"].pop("class_type"))
    api("unknown_class.json", "Node 'KSamplr' not found", mutate=lambda p: p["5"].__setitem__("class_type", "KSamplr"))
    api("unknown_class_suggestion.json", "Did you mean: KSampler", mutate=lambda p: p["5"].__setitem__("class_type", "KSamplerr"))
    api("class_type_number.json", "has no class_type. The workflow may be corrupted", mutate=lambda p: p["5"].__setitem__("class_type", 5))
    api("no_outputs.json", "Prompt has no outputs", mutate=lambda p: p.pop("8"))
    # --- links
    api("cycle.json", "Dependency cycle detected", node="3", inp="clip", value=["9", 0],
        mutate=lambda p: p.__setitem__("9", {"class_type": "CLIPLoader", "inputs": {"clip_name": "x.safetensors", "type": "chroma"}}) or
        p["3"]["inputs"].__setitem__("text", "x") or p["5"]["inputs"].__setitem__("model", ["10", 0]) or
        p.__setitem__("10", {"class_type": "ModelSamplingFlux", "inputs": {"model": ["11", 0], "max_shift": 1.15, "base_shift": 0.5, "width": 1024, "height": 1024}}) or
        p.__setitem__("11", {"class_type": "ModelSamplingFlux", "inputs": {"model": ["10", 0], "max_shift": 1.15, "base_shift": 0.5, "width": 1024, "height": 1024}}))
    api("self_link.json", "Dependency cycle detected", mutate=lambda p: p.__setitem__("9", {"class_type": "ModelSamplingFlux", "inputs": {"model": ["9", 0], "max_shift": 1.15, "base_shift": 0.5, "width": 1024, "height": 1024}}) or p["5"]["inputs"].__setitem__("model", ["9", 0]))
    api("dangling_link.json", "linked node '42' does not exist", node="5", inp="model", value=["42", 0])
    api("missing_output_index.json", "output index 3 does not exist", node="5", inp="model", value=["1", 3])
    api("negative_output_index.json", "output index -1 does not exist", node="5", inp="model", value=["1", -1])
    api("link_three_elements.json", "Bad linked input", node="5", inp="model", value=["1", 0, 0])
    api("link_numeric_id.json", "Bad linked input", node="5", inp="model", value=[1, 0])
    api("wrong_link_type.json", "received_type(CLIP) mismatch input_type(MODEL)", node="5", inp="model", value=["2", 0])
    api("constant_for_socket.json", "must be linked", node="5", inp="model", value="flux.safetensors")
    api("missing_required.json", "Required input is missing", mutate=lambda p: p["5"]["inputs"].pop("steps"))
    api("inputs_not_object.json", "inputs must be a JSON object", mutate=lambda p: p["5"].__setitem__("inputs", [1, 2]))
    def chain(p, n):
        prev = "1"
        for i in range(n):
            nid = str(100 + i)
            p[nid] = {"class_type": "ModelSamplingFlux", "inputs": {"model": [prev, 0], "max_shift": 1.15, "base_shift": 0.5, "width": 1024, "height": 1024}}
            prev = nid
        p["5"]["inputs"]["model"] = [prev, 0]
    api("long_chain.json", "Dependency chain too deep", mutate=lambda p: chain(p, 2500))
    api("many_outputs.json", "Required input is missing", mutate=lambda p: p.pop("8") and [p.__setitem__(str(1000 + i), {"class_type": "SaveImage", "inputs": {}}) for i in range(3000)])
    api("fake_bigint_marker.json", "Failed to convert an input value to a INT value", node="5", inp="seed", value={"__fg_bigint__": "1, \"x\": 2"})
    # --- values
    api("steps_zero.json", "Value 0 smaller than min of 1", node="5", inp="steps", value=0)
    api("steps_huge.json", "Value 1000000000 bigger than max of 10000", node="5", inp="steps", value=1000000000)
    api("width_huge.json", "bigger than max of 16384", node="4", inp="width", value=1000000000)
    api("width_float_huge.json", "bigger than max of 16384", node="4", inp="width", value=1e9)
    api("width_negative.json", "smaller than min of 16", node="4", inp="width", value=-1024)
    api("steps_string.json", "Failed to convert an input value to a INT value", node="5", inp="steps", value="twenty")
    api("steps_object.json", "Failed to convert an input value to a INT value", node="5", inp="steps", value={"a": 1})
    api("steps_null.json", "Failed to convert an input value to a INT value", node="5", inp="steps", value=None)
    api("cfg_string.json", "Failed to convert an input value to a FLOAT value", node="5", inp="cfg", value="high")
    api("cfg_huge.json", "bigger than max of 100", node="5", inp="cfg", value=1e300)
    api("denoise_negative.json", "smaller than min of 0", node="5", inp="denoise", value=-0.5)
    raw("seed_too_big.json", json.dumps(base()).replace('"seed": 1', '"seed": 18446744073709551616'), "bigger than max of 18446744073709551615")
    raw("seed_way_too_big.json", json.dumps(base()).replace('"seed": 1', '"seed": ' + "9" * 400), "bigger than max")
    raw("seed_negative_huge.json", json.dumps(base()).replace('"seed": 1', '"seed": -99999999999999999999'), "smaller than min of 0")
    api("seed_negative.json", "smaller than min of 0", node="5", inp="seed", value=-1)
    api("unknown_sampler.json", "'euler_magic' not in", node="5", inp="sampler_name", value="euler_magic")
    api("unknown_scheduler.json", "'fast' not in", node="5", inp="scheduler", value="fast")
    api("sampler_number.json", "an option must be a string", node="5", inp="sampler_name", value=3)
    api("bad_weight_dtype.json", "'fp4' not in", node="1", inp="weight_dtype", value="fp4")
    # --- paths
    api("model_traversal.json", "no absolute paths, no '..'", node="1", inp="unet_name", value="../../etc/passwd")
    api("model_absolute.json", "no absolute paths, no '..'", node="1", inp="unet_name", value="/etc/passwd")
    api("model_inner_traversal.json", "no absolute paths, no '..'", node="6", inp="vae_name", value="a/../../b")
    api("model_backslash.json", "no absolute paths, no '..'", node="2", inp="clip_name1", value="..\\..\\x")
    # filename_prefix traversal: ComfyUI's validation accepts any string; SaveImage refuses it when it runs.
    api("prefix_traversal.json", "VALID", node="8", inp="filename_prefix", value="../../etc/evil")
    api("prefix_absolute.json", "VALID", node="8", inp="filename_prefix", value="/tmp/evil")
    # --- UI workflows
    n_save = {"id": 1, "type": "SaveImage", "mode": 0, "inputs": [{"name": "images", "type": "IMAGE", "link": 5}], "widgets_values": ["x"]}
    n_dec = {"id": 2, "type": "VAEDecode", "mode": 0, "inputs": [{"name": "samples", "type": "LATENT", "link": None}, {"name": "vae", "type": "VAE", "link": None}], "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [5]}]}
    # stale links are skipped as the frontend skips them (warning on stderr); the input is then missing
    ui("ui_missing_link.json", "node 1 (SaveImage) input 'images' refers to link 5, which is not in the workflow", [n_save], [])
    ui("ui_link_missing_node.json", "link 5 (into node 1) comes from node 77, which does not exist", [n_save], [[5, 77, 0, 1, 0, "IMAGE"]])
    ui("ui_bad_link_shape.json", "not a 6-element array", [n_save], [[5, 2]])
    ui("ui_link_string_slot.json", "malformed link", [n_save, n_dec], [[5, 2, "zero", 1, 0, "IMAGE"]])
    ui("ui_link_bad_slot.json", "node 2 (VAEDecode) output index 4, which does not exist", [n_save, n_dec], [[5, 2, 4, 1, 0, "IMAGE"]])
    ui("ui_node_without_type.json", "lacks a valid", [{"id": 1}], [])
    ui("ui_duplicate_ids.json", "two nodes have id 1", [n_save, dict(n_save)], [])
    ui("ui_inputs_not_array.json", "\"inputs\" is not an array", [dict(n_save, inputs={"a": 1})], [])
    ui("ui_widgets_not_array.json", "widgets_values is neither", [dict(n_save, widgets_values=5)], [])
    ui("ui_huge_widgets.json", "Required input is missing", [dict(n_save, inputs=[], widgets_values=list(range(50000)))], [])
    ui("ui_reroute_loop.json", "loop of Reroute", [n_save, {"id": 3, "type": "Reroute", "inputs": [{"name": "", "type": "*", "link": 6}], "outputs": [{"name": "", "type": "*", "links": [5, 6]}]}], [[5, 3, 0, 1, 0, "IMAGE"], [6, 3, 0, 3, 0, "*"]])
    ui("ui_muted_source.json", "Required input is missing", [n_save, dict(n_dec, mode=2)], [[5, 2, 0, 1, 0, "IMAGE"]])
    raw("ui_subgraph.json", json.dumps({"nodes": [{"id": 1, "type": "0b5c-uuid", "mode": 0}], "links": [], "version": 0.4, "definitions": {"subgraphs": [{"id": "0b5c-uuid", "name": "My Sub"}]}}), "subgraph 'My Sub'")
    raw("ui_group_node.json", json.dumps({"nodes": [{"id": 1, "type": "workflow>Sampler", "mode": 0}], "links": [], "version": 0.4}), "legacy group node")
    # --- PNGs
    good_text = (b"tEXt", b"prompt\x00" + json.dumps(base()).encode())
    png("png_no_text.png", [(b"IEND", b"")], "no \"workflow\" or \"prompt\"")
    png("png_truncated.png", [(b"tEXt", b"prompt\x00{")], "truncated PNG")
    png("png_bad_json.png", [(b"tEXt", b"prompt\x00{not json"), (b"IEND", b"")], "invalid JSON")
    png("png_bad_crc.png", [struct.pack(">I", 3) + b"tEXtabc" + b"\x00\x00\x00\x00", (b"IEND", b"")], "bad CRC")
    png("png_huge_length.png", [struct.pack(">I", 0x7FFFFFF0) + b"tEXt" + b"x" * 16], "truncated PNG")
    png("png_bad_ztxt.png", [(b"zTXt", b"workflow\x00\x00" + b"not zlib data"), (b"IEND", b"")], "bad zlib data")
    png("png_prompt_unknown_class.png", [(b"tEXt", b"prompt\x00" + json.dumps({"1": {"class_type": "Evil", "inputs": {}}}).encode()), (b"IEND", b"")], "Node 'Evil' not found")
    raw("only_signature.png", b"\x89PNG\r\n\x1a\n", "truncated PNG")
    # JSON amplification: ~6 KB of zlib that inflates to 6 MB of "[],", two million values
    # (the real probe used 60 MiB: 8 GiB once parsed). Refused before jansson builds anything.
    amp = b"[" + b"[]," * 2000000 + b"[]]"
    png("png_json_amplification.png", [(b"zTXt", b"prompt\x00\x00" + zlib.compress(amp, 9)), (b"IEND", b"")], "more than the 1000000 a workflow may have")
    objs = b"[" + b"{}," * 2000000 + b"{}]"
    png("png_json_amplification_objects.png", [(b"zTXt", b"workflow\x00\x00" + zlib.compress(objs, 9)), (b"IEND", b"")], "more than the 1000000 a workflow may have")
    raw("jpeg.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "JPEG files carry no ComfyUI workflow")
    with open(os.path.join(OUT, "EXPECTED.txt"), "w") as f:
        f.write("# file<TAB>substring of the error (empty: any clean error; VALID: validation passes)\n")
        for name, needle in expected:
            f.write(f"{name}\t{needle}\n")
    print(f"{len(expected)} hostile workflows")


def python_dumps():
    """json.dumps (Python's defaults) of every example API prompt and of an edge-case prompt,
    the reference for fg_workflow_dump_api."""
    ex = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "workflows", "comfyui_examples")
    out = os.path.join(ex, "json_dumps")
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(ex)):
        if name.endswith(".api.json"):
            with open(os.path.join(ex, name)) as f:
                text = json.dumps(json.load(f))
            with open(os.path.join(out, name[:-5] + ".txt"), "w") as f:
                f.write(text)
    edge = {"1": {"class_type": "SaveImage", "inputs": {
        "floats": [0.1, 1.0, 3.5, 1e-05, 0.0001, 1e16, 1e15, -0.5, 0.8700000000000001, 1.5e300, 123456789012345678.0, 2.5e-308, 5e-324, 1.7976931348623157e308, -0.0],
        "ints": [0, -1, 9223372036854775807, -9223372036854775808, 18446744073709551615],
        "text": "caf\u00e9 \U0001F600 \"q\" \\ \n\t\r\b\f \x01 \x7f \u2028 \uffff",
        "nested": {"a": [], "b": {}, "c": [True, False, None]}}}}
    with open(os.path.join(out, "edge_cases.json"), "w") as f:
        f.write(json.dumps(edge, ensure_ascii=False))
    with open(os.path.join(out, "edge_cases.txt"), "w") as f:
        f.write(json.dumps(edge))


if __name__ == "__main__":
    main()
    python_dumps()
