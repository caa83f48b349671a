#!/usr/bin/env bash
# `make demo`: what fluxgraph can show today. Until the workflow executor lands this inspects
# the tiny FLUX models shipped with the tests, writes a fresh random tiny model set with
# mkmodel, and reproduces PyTorch's seeded noise with probe.
set -euo pipefail
build=${1:-build}
fg="$build/fluxgraph"
"$fg" version
echo
for f in tests/fixtures/models/diffusion_models/tiny-flux.safetensors \
         tests/fixtures/models/text_encoders/tiny-clip-l.safetensors \
         tests/fixtures/models/text_encoders/tiny-t5xxl.safetensors \
         tests/fixtures/models/vae/tiny-ae.safetensors; do
    echo "== fluxgraph info $f"
    "$fg" info "$f"
    echo
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== fluxgraph mkmodel --preset tiny $out/models"
"$fg" mkmodel --preset tiny "$out/models"
find "$out/models" -name '*.safetensors' | sort
echo
echo "== fluxgraph probe rng (torch.manual_seed + torch.randn, bit-exact)"
"$fg" probe rng --golden tests/fixtures/golden/rng.safetensors --out "$out/rng.safetensors"
