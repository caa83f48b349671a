#!/usr/bin/env python3
"""PyTorch reference timing of the FLUX.1 DiT forward, for comparison with `fluxgraph bench`.

Our own minimal re-statement of the block structure the C code implements (docs/models.md 1.4-1.12,
unet/flux_*.c): patchify -> img_in / txt_in; vec = time_in(temb(1000 t)) + guidance_in(temb(g))
+ vector_in(y); 19 double blocks (per-stream adaLN modulation, fused qkv, QK RMSNorm, RoPE over
the joint text-first sequence, scaled_dot_product_attention, gated residuals, GELU-tanh MLP);
38 single blocks (linear1 = qkv + MLP in, linear2 over [attention, gelu(mlp)]); final adaLN +
linear; unpatchify. Weights are random (nn.Linear's default init) at full size in BF16, created
directly on the device; activations are BF16 with float32 RMSNorm, as in the reference.

Prints one JSON line per (mode, size): {"impl": "pytorch", "mode": "eager"|"compile", "size": 1024,
"ms_per_step": ..., "tflops": ..., ...}. Exit status 3 (and a message on stderr) when PyTorch is
not installed, 2 for bad arguments.

    python3 bench/flux_torch.py --device cuda --sizes 512,1024 --steps 10 --warmup 3
"""
import argparse
import json
import math
import sys
import time

PRESETS = {
    # hidden, heads, mlp, depth, depth_single, in, context, vec, time_dim, guidance
    "dev": dict(hidden=3072, heads=24, mlp=12288, depth=19, depth_single=38, in_ch=64, context=4096, vec=768,
                time_dim=256, guidance=True),
    "schnell": dict(hidden=3072, heads=24, mlp=12288, depth=19, depth_single=38, in_ch=64, context=4096, vec=768,
                    time_dim=256, guidance=False),
    "tiny": dict(hidden=256, heads=2, mlp=1024, depth=2, depth_single=2, in_ch=64, context=64, vec=128, time_dim=256,
                 guidance=True),
}


def flux_flops(c, batch, image_tokens, text_tokens):
    """The same count as unet/flux_flops.c: (linear, attention) FLOPs of one forward."""
    h, m = c["hidden"], c["mlp"]
    lin = lambda rows, o, i: 2.0 * rows * o * i
    b, li, lt = batch, batch * image_tokens, batch * text_tokens
    f = lin(li, h, c["in_ch"]) + lin(lt, h, c["context"])
    f += lin(b, h, c["time_dim"]) + lin(b, h, h) + lin(b, h, c["vec"]) + lin(b, h, h)
    if c["guidance"]:
        f += lin(b, h, c["time_dim"]) + lin(b, h, h)
    f += c["depth"] * 2 * lin(b, 6 * h, h) + c["depth_single"] * lin(b, 3 * h, h) + lin(b, 2 * h, h)
    stream = lambda t: lin(t, 3 * h, h) + lin(t, h, h) + lin(t, m, h) + lin(t, h, m)
    f += c["depth"] * (stream(li) + stream(lt))
    f += c["depth_single"] * (lin(li + lt, 3 * h + m, h) + lin(li + lt, h, h + m))
    f += lin(li, c["in_ch"], h)
    seq = image_tokens + text_tokens
    att = (c["depth"] + c["depth_single"]) * 4.0 * batch * c["heads"] * seq * seq * (h // c["heads"])
    return f, att


def build_model(torch, c):
    nn, F = torch.nn, torch.nn.functional
    hidden, heads, mlp = c["hidden"], c["heads"], c["mlp"]
    head_dim = hidden // heads
    axes = (16, 56, 56) if head_dim == 128 else (head_dim // 8, 7 * head_dim // 16, 7 * head_dim // 16)

    def rms_norm(x, scale):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)).to(x.dtype) * scale

    def rope(x, cos, sin):  # x [B, H, L, D]; pairs (2i, 2i+1)
        x2 = x.float().unflatten(-1, (-1, 2))
        a, b = x2[..., 0], x2[..., 1]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), -1).flatten(-2).to(x.dtype)

    def modulate(x, shift, scale):
        return F.layer_norm(x, (hidden,), eps=1e-6) * (1 + scale) + shift

    def heads_of(qkv, qn, kn):  # [B, L, 3H] -> q, k, v [B, heads, L, D]
        q, k, v = qkv.unflatten(-1, (3, heads, head_dim)).permute(2, 0, 3, 1, 4)
        return rms_norm(q, qn), rms_norm(k, kn), v

    def attention(q, k, v, cos, sin):
        o = F.scaled_dot_product_attention(rope(q, cos, sin), rope(k, cos, sin), v)
        return o.transpose(1, 2).flatten(2)

    class Stream(nn.Module):
        def __init__(self):
            super().__init__()
            self.mod = nn.Linear(hidden, 6 * hidden)
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.q_norm = nn.Parameter(torch.ones(head_dim))
            self.k_norm = nn.Parameter(torch.ones(head_dim))
            self.proj = nn.Linear(hidden, hidden)
            self.mlp0 = nn.Linear(hidden, mlp)
            self.mlp2 = nn.Linear(mlp, hidden)

    class DoubleBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.img, self.txt = Stream(), Stream()

        def forward(self, img, txt, silu_vec, cos, sin):
            im = self.img.mod(silu_vec)[:, None].chunk(6, -1)
            tm = self.txt.mod(silu_vec)[:, None].chunk(6, -1)
            iq, ik, iv = heads_of(self.img.qkv(modulate(img, im[0], im[1])), self.img.q_norm, self.img.k_norm)
            tq, tk, tv = heads_of(self.txt.qkv(modulate(txt, tm[0], tm[1])), self.txt.q_norm, self.txt.k_norm)
            o = attention(torch.cat((tq, iq), 2), torch.cat((tk, ik), 2), torch.cat((tv, iv), 2), cos, sin)
            lt = txt.shape[1]
            for s, x, m, part in ((self.img, img, im, o[:, lt:]), (self.txt, txt, tm, o[:, :lt])):
                x = x + m[2] * s.proj(part)
                x = x + m[5] * s.mlp2(F.gelu(s.mlp0(modulate(x, m[3], m[4])), approximate="tanh"))
                if s is self.img:
                    img = x
                else:
                    txt = x
            return img, txt

    class SingleBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.mod = nn.Linear(hidden, 3 * hidden)
            self.linear1 = nn.Linear(hidden, 3 * hidden + mlp)
            self.linear2 = nn.Linear(hidden + mlp, hidden)
            self.q_norm = nn.Parameter(torch.ones(head_dim))
            self.k_norm = nn.Parameter(torch.ones(head_dim))

        def forward(self, x, silu_vec, cos, sin):
            shift, scale, gate = self.mod(silu_vec)[:, None].chunk(3, -1)
            qkv, h = self.linear1(modulate(x, shift, scale)).split((3 * hidden, mlp), -1)
            q, k, v = heads_of(qkv, self.q_norm, self.k_norm)
            att = attention(q, k, v, cos, sin)
            return x + gate * self.linear2(torch.cat((att, F.gelu(h, approximate="tanh")), -1))

    def mlp_embedder(n_in):
        return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def temb(t, dim):  # 1000 t, cos first, then sin
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = 1000.0 * t.float()[:, None] * freqs[None]
        return torch.cat((torch.cos(args), torch.sin(args)), -1)

    def rope_tables(lt, h2, w2, device):
        rows = torch.arange(h2, device=device, dtype=torch.float32).repeat_interleave(w2)
        cols = torch.arange(w2, device=device, dtype=torch.float32).repeat(h2)
        zeros = torch.zeros(lt + h2 * w2, device=device)
        pos = (zeros, torch.cat((zeros[:lt], rows)), torch.cat((zeros[:lt], cols)))
        angles = []
        for p, d in zip(pos, axes):
            omega = 1.0 / (10000.0 ** (torch.arange(0, d, 2, device=device, dtype=torch.float64) / d))
            angles.append(p.double()[:, None] * omega[None])
        a = torch.cat(angles, -1).float()
        return torch.cos(a), torch.sin(a)

    class Flux(nn.Module):
        def __init__(self):
            super().__init__()
            self.img_in = nn.Linear(c["in_ch"], hidden)
            self.txt_in = nn.Linear(c["context"], hidden)
            self.time_in = mlp_embedder(c["time_dim"])
            self.guidance_in = mlp_embedder(c["time_dim"]) if c["guidance"] else None
            self.vector_in = mlp_embedder(c["vec"])
            self.double_blocks = nn.ModuleList(DoubleBlock() for _ in range(c["depth"]))
            self.single_blocks = nn.ModuleList(SingleBlock() for _ in range(c["depth_single"]))
            self.final_mod = nn.Linear(hidden, 2 * hidden)
            self.final_linear = nn.Linear(hidden, c["in_ch"])

        def forward(self, x, t, context, y, guidance):
            b, ch, h, w = x.shape
            h2, w2 = h // 2, w // 2
            tokens = x.reshape(b, ch, h2, 2, w2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, h2 * w2, ch * 4)
            img = self.img_in(tokens)
            vec = self.time_in(temb(t, c["time_dim"]).to(x.dtype))
            if self.guidance_in is not None:
                vec = vec + self.guidance_in(temb(guidance, c["time_dim"]).to(x.dtype))
            vec = vec + self.vector_in(y)
            silu_vec = F.silu(vec)
            txt = self.txt_in(context)
            cos, sin = rope_tables(txt.shape[1], h2, w2, x.device)
            for blk in self.double_blocks:
                img, txt = blk(img, txt, silu_vec, cos, sin)
            xs = torch.cat((txt, img), 1)
            for blk in self.single_blocks:
                xs = blk(xs, silu_vec, cos, sin)
            img = xs[:, txt.shape[1]:]
            shift, scale = self.final_mod(silu_vec)[:, None].chunk(2, -1)
            out = self.final_linear(modulate(img, shift, scale))
            return out.reshape(b, h2, w2, ch, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, ch, h, w)

    return Flux()


# ---- checking the reference against the golden outputs of the tiny model ----------------------

SAFETENSORS_DTYPES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


def read_safetensors(torch, path):
    """{name: tensor} of a .safetensors file (float dtypes), without the safetensors package."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        raw = bytearray(data[8 + n + begin:8 + n + end])
        t = torch.frombuffer(raw, dtype=getattr(torch, SAFETENSORS_DTYPES[e["dtype"]])) if raw else torch.zeros(0)
        out[name] = t.reshape(e["shape"])
    return out


def bfl_name(name):
    """The BFL checkpoint name of one of our parameters."""
    import re
    for pat, rep in ((r"^(time_in|guidance_in|vector_in)\.0\.", r"\1.in_layer."),
                     (r"^(time_in|guidance_in|vector_in)\.2\.", r"\1.out_layer."),
                     (r"\.(img|txt)\.mod\.", r".\1_mod.lin."), (r"\.(img|txt)\.qkv\.", r".\1_attn.qkv."),
                     (r"\.(img|txt)\.q_norm$", r".\1_attn.norm.query_norm.scale"),
                     (r"\.(img|txt)\.k_norm$", r".\1_attn.norm.key_norm.scale"),
                     (r"\.(img|txt)\.proj\.", r".\1_attn.proj."), (r"\.(img|txt)\.mlp0\.", r".\1_mlp.0."),
                     (r"\.(img|txt)\.mlp2\.", r".\1_mlp.2."), (r"^(single_blocks\.\d+)\.mod\.", r"\1.modulation.lin."),
                     (r"^(single_blocks\.\d+)\.q_norm$", r"\1.norm.query_norm.scale"),
                     (r"^(single_blocks\.\d+)\.k_norm$", r"\1.norm.key_norm.scale"),
                     (r"^final_mod\.", "final_layer.adaLN_modulation.1."), (r"^final_linear\.", "final_layer.linear.")):
        name = re.sub(pat, rep, name)
    return name


def check_golden(torch, root):
    """Runs the tiny checkpoint on the golden inputs in float32 and compares with the reference
    outputs (ComfyUI's forward): proof that this script computes the FLUX forward."""
    model = build_model(torch, PRESETS["tiny"]).float().eval()
    weights = read_safetensors(torch, f"{root}/tests/fixtures/models/diffusion_models/tiny-flux.safetensors")
    golden = read_safetensors(torch, f"{root}/tests/fixtures/golden/flux.safetensors")
    state = {name: weights[bfl_name(name)].float() for name in model.state_dict()}
    model.load_state_dict(state, strict=True)
    ok = True
    for case in ("c0", "c1"):
        g = lambda k: golden[f"{case}_{k}"]
        with torch.no_grad():
            out = model(g("x"), g("timestep"), g("context"), g("y"), g("guidance"))
        err, ref = (out - g("out")).abs().max().item(), g("out").abs().max().item()
        good = err <= 2e-3 * max(ref, 1.0)
        ok &= good
        print(json.dumps({"check": "golden", "case": case, "max_abs_err": err, "max_abs_ref": ref, "ok": good}))
    return 0 if ok else 1


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--preset", default="dev", choices=sorted(PRESETS))
    p.add_argument("--sizes", default="512,1024,1536,2048", help="square image sizes in pixels, multiples of 16")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--text-tokens", type=int, default=512)
    p.add_argument("--modes", default="eager,compile", help="comma list of eager, compile")
    p.add_argument("--check-golden", metavar="REPO", help="compare the tiny model with the golden outputs in REPO/tests")
    a = p.parse_args(argv)
    try:
        a.sizes = [int(s) for s in a.sizes.split(",")]
    except ValueError:
        p.error(f"--sizes {a.sizes!r}: integers separated by commas")
    if any(s < 16 or s > 8192 or s % 16 for s in a.sizes):
        p.error("--sizes: every size must be a multiple of 16 from 16 to 8192")
    a.modes = a.modes.split(",")
    if any(m not in ("eager", "compile") for m in a.modes):
        p.error("--modes: eager and/or compile")
    if a.steps < 1 or a.warmup < 0 or a.batch < 1 or a.text_tokens < 1:
        p.error("--steps, --batch, --text-tokens must be >= 1 and --warmup >= 0")
    return a


def time_size(torch, fn, c, a, size, dev):
    b, lat = a.batch, size // 8
    g = torch.Generator(device=dev).manual_seed(size)
    rnd = lambda *shape: torch.rand(*shape, generator=g, device=dev, dtype=torch.float32).mul(2).sub(1)
    x = rnd(b, 16, lat, lat).bfloat16()
    ctx = rnd(b, a.text_tokens, c["context"]).bfloat16()
    y = rnd(b, c["vec"]).bfloat16()
    t = torch.full((b,), 0.75, device=dev)
    guidance = torch.full((b,), 3.5, device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.warmup):
        fn(x, t, ctx, y, guidance)
    sync()
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(a.steps):
        out = fn(x, t, ctx, y, guidance)
    sync()
    ms = (time.perf_counter() - t0) * 1e3 / a.steps
    if not bool(torch.isfinite(out).all()):
        raise RuntimeError(f"non-finite output at {size}x{size}")
    peak = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None
    return ms, warm_s, peak


def main(argv):
    a = parse_args(argv)
    try:
        import torch
    except ImportError as e:
        print(f"flux_torch.py: PyTorch is not installed ({e}); nothing to compare against", file=sys.stderr)
        return 3
    if a.check_golden:
        return check_golden(torch, a.check_golden)
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(f"flux_torch.py: PyTorch {torch.__version__} sees no CUDA device", file=sys.stderr)
        return 3
    c = PRESETS[a.preset]
    torch.manual_seed(0)
    with torch.device(dev):
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.bfloat16)
        try:
            model = build_model(torch, c).eval()
        finally:
            torch.set_default_dtype(default)
    params = sum(p.numel() for p in model.parameters())
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    status = 0
    for mode in a.modes:
        # Static shapes: one specialised graph per size, as a deployment would compile them.
        fn = torch.compile(model, dynamic=False) if mode == "compile" else model
        for size in a.sizes:
            tokens = (size // 16) ** 2
            lin, att = flux_flops(c, a.batch, tokens, a.text_tokens)
            try:
                with torch.inference_mode():
                    ms, warm_s, peak = time_size(torch, fn, c, a, size, dev)
            except Exception as e:  # report and go on: a failed compile must not hide eager numbers
                print(f"flux_torch.py: {mode} at {size}x{size} failed: {type(e).__name__}: {e}", file=sys.stderr)
                status = 1
                continue
            rec = {"impl": "pytorch", "mode": mode, "size": size, "image_tokens": tokens, "text_tokens": a.text_tokens,
                   "batch": a.batch, "preset": a.preset, "params": params, "ms_per_step": round(ms, 4),
                   "tflop_per_step": round((lin + att) / 1e12, 6), "tflops": round((lin + att) / (ms * 1e-3) / 1e12, 4),
                   "warmup_seconds": round(warm_s, 3), "peak_memory_gib": None if peak is None else round(peak, 3),
                   "device": name, "torch": torch.__version__}
            print(json.dumps(rec), flush=True)
    return status

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
