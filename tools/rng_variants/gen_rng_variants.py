#!/usr/bin/env python3
"""Record torch.randn for the seeds/shapes of tests/fixtures/golden/rng.safetensors with
whatever torch kernel this process runs, so fluxgraph's --noise-compat variants can be checked
against the real thing.

usage: gen_rng_variants.py GOLDEN_RNG OUT.safetensors

Which kernel runs depends on the machine and on ATEN_CPU_CAPABILITY (see README.md here):
x86-64 with AVX2 (or AVX-512, which torch does not dispatch normal_ to) -> the AVX2 kernel;
ATEN_CPU_CAPABILITY=default on x86-64, or any aarch64 build -> the generic kernel. The output
records torch's version, the capability and the machine so a fixture says where it came from.
"big" (16x128x128 in the golden file) is cut to 16x64x64 to keep the fixture small."""
import json
import platform
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

BIG_SHAPE = [1, 16, 64, 64]


def main():
    golden, out = sys.argv[1], sys.argv[2]
    tensors, meta = {}, {}
    with safe_open(golden, "pt") as f:
        gmeta = f.metadata()
        for name in f.keys():
            info = json.loads(gmeta[name])
            shape = BIG_SHAPE if name == "big" else info["shape"]
            torch.manual_seed(int(info["seed"]))
            tensors[name] = torch.randn(shape, dtype=torch.float32).contiguous()
            meta[name] = json.dumps({"seed": info["seed"], "shape": shape})
    meta["__source__"] = json.dumps({
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "libc": "-".join(platform.libc_ver()),
    })
    save_file(tensors, out, metadata=meta)
    print(out, meta["__source__"])


if __name__ == "__main__":
    main()
