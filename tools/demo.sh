#!/usr/bin/env bash
# `make demo`: what fluxgraph can show today: it inspects the tiny FLUX models shipped with the
# tests, writes a fresh random tiny model set with mkmodel, reproduces PyTorch's seeded noise
# with probe, and generates an image with the tiny txt2img workflow (text encoders, FLUX DiT,
# 4 euler steps, VAE decode) with `run`, printing the image path (the image is kept).
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
echo
images=$(mktemp -d "${TMPDIR:-/tmp}/fluxgraph-demo.XXXXXX")
echo "== fluxgraph run workflows/tiny_txt2img.api.json --models tests/fixtures/models --output $images"
"$fg" run workflows/tiny_txt2img.api.json --models tests/fixtures/models --output "$images"
echo "image: $(find "$images" -name '*.png' | sort | head -n 1)"
