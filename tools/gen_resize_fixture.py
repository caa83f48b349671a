#!/usr/bin/env python3
"""Generates tests/fixtures/image/resize.json: expected outputs of ComfyUI's common_upscale.

The PyTorch modes (nearest-exact, bilinear, bicubic, area; align_corners=False, no
antialias) are re-implemented here from their documented formulas with numpy float32 scalars,
one rounding per operation in PyTorch's order — torch itself is not needed. lanczos works on
the uint8-quantised planes, as ComfyUI's comfy.utils.lanczos does (see below). Center-crop windows use Python's own round() (half to even).

lanczos is computed by a Python port of Pillow's classic two-pass resampler (horizontal pass
first, as Pillow <= 12 always does; newer Pillow picks the pass order by a cost estimate, which
can move some outputs by a few levels). Every lanczos case is cross-checked against the
installed Pillow: it must equal one of the two pass orders, which pins the coefficients and
the fixed-point rounding to the real library.

Needs numpy and Pillow (pip install numpy pillow). Run from the repository root:
    python3 tools/gen_resize_fixture.py
Deterministic: re-running leaves the committed fixture unchanged.
"""
import json
import math
import os
import sys

import numpy as np
import PIL
from PIL import Image

F = np.float32
OUT = os.path.join("tests", "fixtures", "image", "resize.json")


def crop_window(old_w, old_h, width, height, crop):
    x = y = 0
    if crop == "center":
        old_aspect = old_w / old_h
        new_aspect = width / height
        if old_aspect > new_aspect:
            x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
        elif old_aspect < new_aspect:
            y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
    return x, y, old_w - 2 * x, old_h - 2 * y


def taps(method, n_in, n_out):
    """Per output position: list of (source index, float32 weight)."""
    scale = F(F(n_in) / F(n_out))
    rows = []
    for o in range(n_out):
        if method == "nearest-exact":
            src = int(np.floor(F(np.float64(o + 0.5) * np.float64(scale))))
            rows.append([(min(src, n_in - 1), F(1))])
            continue
        real = F(F(scale * F(F(o) + F(0.5))) - F(0.5))
        if method == "bilinear" and real < 0:
            real = F(0)
        i = min(int(np.floor(real)), n_in - 1)
        t = F(min(max(F(real - F(i)), F(0)), F(1)))
        if method == "bilinear":
            rows.append([(i, F(F(1) - t)), (i + 1 if i < n_in - 1 else i, t)])
        else:
            a = F(-0.75)
            c1 = lambda x: F(F(F(F(F(F(a + F(2)) * x) - F(a + F(3))) * x) * x) + F(1))
            c2 = lambda x: F(F(F(F(F(F(a * x) - F(F(5) * a)) * x) + F(F(8) * a)) * x) - F(F(4) * a))
            t2 = F(1.0 - np.float64(t))
            w = [c2(F(np.float64(t) + 1.0)), c1(t), c1(t2), c2(F(np.float64(t2) + 1.0))]
            rows.append([(min(max(i - 1 + j, 0), n_in - 1), w[j]) for j in range(4)])
    return rows


def resize_plane(plane, method, out_h, out_w):
    in_h, in_w = plane.shape
    out = np.zeros((out_h, out_w), dtype=F)
    if method == "area":
        for oy in range(out_h):
            y0, y1 = oy * in_h // out_h, -(-(oy + 1) * in_h // out_h)
            for ox in range(out_w):
                x0, x1 = ox * in_w // out_w, -(-(ox + 1) * in_w // out_w)
                s = F(0)
                for y in range(y0, y1):
                    for x in range(x0, x1):
                        s = F(s + plane[y, x])
                out[oy, ox] = F(F(s / F(y1 - y0)) / F(x1 - x0))
        return out
    ty, tx = taps(method, in_h, out_h), taps(method, in_w, out_w)
    for oy in range(out_h):
        for ox in range(out_w):
            acc = None
            for iy, wy in ty[oy]:
                row = None
                for ix, wx in tx[ox]:
                    term = F(plane[iy, ix] * wx)
                    row = term if row is None else F(row + term)
                term = F(row * wy)
                acc = term if acc is None else F(acc + term)
            out[oy, ox] = acc
    return out


PREC = 22  # Pillow's PRECISION_BITS for 8-bit images


def pil_coeffs(n_in, n_out):
    """Pillow's precompute_coeffs (box [0, n_in)) + normalize_coeffs_8bpc for LANCZOS (support 3)."""
    def sinc(v):
        if v == 0.0:
            return 1.0
        v *= math.pi
        return math.sin(v) / v

    def lanczos3(v):
        return sinc(v) * sinc(v / 3) if -3.0 <= v < 3.0 else 0.0

    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = 3.0 * filterscale
    rows = []
    for o in range(n_out):
        center = (o + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in) - xmin
        k = [lanczos3((x + xmin - center + 0.5) / filterscale) for x in range(xmax)]
        ww = sum(k)
        k = [v / ww if ww != 0.0 else v for v in k]
        rows.append((xmin, [int(-0.5 + v * (1 << PREC)) if v < 0 else int(0.5 + v * (1 << PREC)) for v in k]))
    return rows


def pil_pass(a, coeffs):
    """Resample the last axis of a uint8 2-D array."""
    out = np.zeros((a.shape[0], len(coeffs)), dtype=np.uint8)
    for y in range(a.shape[0]):
        for o, (xmin, k) in enumerate(coeffs):
            ss = (1 << (PREC - 1)) + sum(int(a[y, xmin + i]) * k[i] for i in range(len(k)))
            out[y, o] = 0 if ss <= 0 else min(ss >> PREC, 255)
    return out


def pil_lanczos(plane, out_h, out_w, horizontal_first=True):
    h, w = plane.shape
    cur = plane
    order = ("x", "y") if horizontal_first else ("y", "x")
    for axis in order:
        if axis == "x" and out_w != w:
            cur = pil_pass(cur, pil_coeffs(w, out_w))
        if axis == "y" and out_h != h:
            cur = pil_pass(cur.T, pil_coeffs(h, out_h)).T
    return cur


def lanczos(x, out_h, out_w):
    """comfy.utils.lanczos: uint8(clip(255 x)) -> LANCZOS per channel -> /255, per image."""
    n, c = x.shape[:2]
    res = np.zeros((n, c, out_h, out_w), dtype=F)
    for b in range(n):
        hwc = np.clip(F(255.0) * x[b].transpose(1, 2, 0), 0, 255).astype(np.uint8)
        real = np.array(Image.fromarray(hwc if c == 3 else hwc[:, :, 0]).resize(
            (out_w, out_h), resample=Image.Resampling.LANCZOS))
        real = real.reshape(out_h, out_w, c)
        for ch in range(c):
            mine = pil_lanczos(hwc[:, :, ch], out_h, out_w)
            other = pil_lanczos(hwc[:, :, ch], out_h, out_w, horizontal_first=False)
            if not (np.array_equal(mine, real[:, :, ch]) or np.array_equal(other, real[:, :, ch])):
                sys.exit(f"lanczos port disagrees with Pillow {PIL.__version__} for {hwc.shape} -> {out_w}x{out_h}")
            res[b, ch] = mine.astype(F) / F(255.0)
    return res


def common_upscale(x, width, height, method, crop):
    cx, cy, cw, ch = crop_window(x.shape[3], x.shape[2], width, height, crop)
    s = x[:, :, cy:cy + ch, cx:cx + cw]
    if method == "lanczos":
        return lanczos(s, height, width)
    out = np.zeros(x.shape[:2] + (height, width), dtype=F)
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            out[b, c] = resize_plane(s[b, c], method, height, width)
    return out


CASES = [
    # (shape NCHW, width, height, crop)
    ((1, 3, 5, 7), 4, 9, "disabled"),
    ((2, 2, 6, 6), 3, 3, "disabled"),
    ((1, 1, 4, 4), 8, 8, "disabled"),
    ((1, 3, 13, 11), 17, 6, "center"),
    ((1, 2, 7, 16), 5, 5, "center"),
    ((1, 1, 3, 9), 13, 2, "disabled"),
    ((1, 1, 8, 5), 3, 11, "center"),
]
LANCZOS_CASES = [
    ((1, 3, 10, 12), 25, 7, "disabled"),
    ((1, 3, 9, 9), 5, 20, "disabled"),
    ((2, 3, 16, 11), 6, 6, "center"),
    ((1, 1, 12, 30), 7, 5, "disabled"),
    ((1, 3, 6, 6), 6, 6, "disabled"),
    ((1, 3, 7, 37), 26, 11, "disabled"),
    ((1, 1, 8, 20), 9, 8, "disabled"),
    ((1, 1, 15, 6), 6, 40, "disabled"),
]
CROP_WINDOWS = [(1024, 768, 512, 512), (5, 2, 2, 2), (7, 2, 2, 2), (768, 1024, 1024, 512), (1000, 1000, 300, 301),
                (333, 777, 512, 512), (10, 3, 7, 2), (1920, 1080, 1024, 1024), (3, 3, 3, 3)]


def main():
    if not os.path.isdir("tests"):
        sys.exit("run from the repository root")
    rng = np.random.default_rng(20261121)
    cases = []
    for methods, table in ((("nearest-exact", "bilinear", "bicubic", "area"), CASES), (("lanczos",), LANCZOS_CASES)):
        for shape, width, height, crop in table:
            x = rng.uniform(-0.1, 1.1, size=shape).astype(F)
            for method in methods:
                y = common_upscale(x, width, height, method, crop)
                cases.append({
                    "method": method, "crop": crop, "shape": list(shape), "width": width, "height": height,
                    "input": [float("%.9g" % v) for v in x.ravel()],
                    "output": [float("%.9g" % v) for v in y.ravel()],
                })
    windows = [{"src": [w, h], "size": [tw, th], "window": list(crop_window(w, h, tw, th, "center"))}
               for w, h, tw, th in CROP_WINDOWS]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generator": "tools/gen_resize_fixture.py", "cases": cases, "crop_windows": windows}, f,
                  separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases and {len(windows)} crop windows to {OUT}")


if __name__ == "__main__":
    main()
