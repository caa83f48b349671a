#!/usr/bin/env python3
"""Generates tests/fixtures/golden/bislerp.safetensors: ComfyUI's bislerp latent upscale.

The expected outputs come from ComfyUI's own comfy.utils.common_upscale(..., "bislerp", crop)
(which crops, then calls comfy.utils.bislerp), imported from a ComfyUI source tree given on the
command line and run by torch on the CPU in float32. Nothing of ComfyUI is copied here.

Needs torch, numpy, safetensors and what comfy/utils.py imports (Pillow, einops, tqdm ...),
i.e. a venv with ComfyUI's requirements. Run from the repository root:
    python3 tools/gen_bislerp_fixture.py /path/to/ComfyUI [--out tests/fixtures/golden/bislerp.safetensors]
Inputs are drawn with fixed torch seeds: re-running with the same torch reproduces every tensor
bit for bit (only the header's metadata order may change). Outputs may move by an ulp across
torch builds / CPU kinds (vectorised sums, Sleef's acos and sin), which the C test's tolerance
(tests/image/bislerp_cases.c) allows for. The committed file: ComfyUI 0.30.0, torch 2.15 CPU,
AVX512 (recorded in its metadata).

File layout: for case K (0 .. count-1) tensors `caseK_in` F32 [n, c, h, w] and `caseK_out`
F32 [n, c, height, width]; metadata `caseK` = JSON {"name", "width", "height", "crop"},
`count`, `description`, and the torch / ComfyUI versions used.
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

OUT = os.path.join("tests", "fixtures", "golden", "bislerp.safetensors")


def randn(seed, shape, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float32) * scale


def edge_latent():
    """4x4 pixels of 16 channels whose neighbours hit slerp's special cases: zero vectors (norm 0,
    normalised to 0), identical and positively scaled neighbours (dot > 1 - 1e-5: b1 is kept),
    opposite neighbours (dot < 1e-5 - 1: linear interpolation), and ordinary ones."""
    x = randn(7, (1, 16, 4, 4))
    v = x[0, :, 0, 0].clone()
    x[0, :, 0, 1] = v            # identical right neighbour
    x[0, :, 0, 2] = 3.0 * v      # parallel, other norm
    x[0, :, 0, 3] = -v           # opposite
    x[0, :, 1, :] = 0.0          # a whole zero row: zero next to zero and next to non-zero
    x[0, :, 2, 1] = -x[0, :, 2, 0]
    x[0, :, 3, 3] = 0.0
    x[0, :, 2, 3] = x[0, :, 3, 3]  # zero above zero
    x[0, :5, 3, 0] = 0.0         # a partly zero vector (ordinary)
    return x


def cases():
    # (name, input, width, height, crop)
    return [
        ("up_2x", randn(1, (1, 16, 4, 6)), 12, 8, "disabled"),
        ("up_non_integer", randn(2, (1, 16, 5, 7)), 11, 8, "disabled"),
        ("down", randn(3, (1, 16, 9, 12)), 5, 4, "disabled"),
        ("down_non_integer", randn(4, (1, 16, 10, 10), 2.5), 7, 3, "disabled"),
        ("batch2_mixed", randn(5, (2, 16, 6, 4)), 9, 5, "disabled"),
        ("center_crop_x", randn(6, (1, 16, 6, 10)), 8, 8, "center"),
        ("center_crop_y", randn(8, (2, 16, 10, 5)), 6, 4, "center"),
        ("width_only", randn(9, (1, 16, 5, 6)), 10, 5, "disabled"),
        ("height_only", randn(10, (1, 16, 5, 6)), 6, 9, "disabled"),
        ("same_size", randn(11, (1, 16, 5, 5)), 5, 5, "disabled"),
        ("edge_vectors", edge_latent(), 7, 6, "disabled"),
        ("edge_vectors_down", edge_latent(), 3, 3, "disabled"),
        ("one_pixel_up", randn(12, (1, 16, 1, 1)), 3, 2, "disabled"),
        ("one_row", randn(13, (1, 16, 1, 5)), 3, 1, "disabled"),
        ("to_one_pixel", randn(14, (1, 16, 4, 3)), 1, 1, "disabled"),
        ("one_column_up", randn(15, (1, 16, 3, 1)), 1, 7, "disabled"),
        ("four_channels", randn(16, (1, 4, 5, 5)), 8, 3, "disabled"),
        ("one_channel", randn(17, (1, 1, 3, 4)), 5, 5, "disabled"),
        ("upscale_by_1_5", randn(18, (1, 16, 12, 16)), 24, 18, "disabled"),
        ("all_zero", torch.zeros((1, 16, 2, 3)), 5, 4, "disabled"),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("comfyui", help="ComfyUI source tree (the folder holding comfy/)")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.comfyui))
    sys.argv = sys.argv[:1]  # comfy.cli_args may parse the command line on import
    import comfy.utils

    version = "?"
    try:
        import comfyui_version  # the tree's version file, when it has one
        version = comfyui_version.__version__
    except ImportError:
        pass

    torch.set_num_threads(1)
    tensors, meta = {}, {}
    all_cases = cases()
    for k, (name, x, width, height, crop) in enumerate(all_cases):
        with torch.no_grad():
            y = comfy.utils.common_upscale(x.clone(), width, height, "bislerp", crop)
        assert y.dtype == torch.float32 and tuple(y.shape) == (x.shape[0], x.shape[1], height, width), name
        tensors[f"case{k}_in"] = x.contiguous()
        tensors[f"case{k}_out"] = y.contiguous()
        meta[f"case{k}"] = json.dumps({"name": name, "width": width, "height": height, "crop": crop})
    meta["count"] = str(len(all_cases))
    meta["description"] = ("comfy.utils.common_upscale(x, width, height, 'bislerp', crop) on the CPU in float32; "
                           "made by tools/gen_bislerp_fixture.py")
    meta["torch"] = torch.__version__
    meta["comfyui"] = version
    meta["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out}: {len(all_cases)} cases, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
