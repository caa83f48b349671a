#!/usr/bin/env bash
# Run gen_rng_variants.py under a real aarch64 PyTorch wheel, emulated by qemu-user on an
# x86-64 Debian 12 host. See README.md beside this file.
#
# usage: tools/rng_variants/run_aarch64.sh [OUTDIR]
#   env: ROOT (sysroot, default /tmp/arm64root)  TORCH (default 2.15.0)
#        CPUS (qemu -cpu models, default "neoverse-n1 max,sve128=on max,sve256=on")
#        REF  (x86 outputs to compare with, default /tmp/rng_default.safetensors /tmp/rng_avx2.safetensors)
#        HOSTPY (x86 python with torch+safetensors for the comparison, default /tmp/fxgen/venv/bin/python)
# Writes OUTDIR/rng_aarch64_<cpu>.safetensors (OUTDIR defaults to /tmp) and prints a comparison.
# Needs root (apt-get download, dpkg --add-architecture arm64), qemu-user, pip, and clang+lld or
# aarch64-linux-gnu-gcc (only for a 20-line stub library). Nothing is installed for arm64 system-wide.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=${ROOT:-/tmp/arm64root}
TORCH=${TORCH:-2.15.0}
CPUS=${CPUS:-"neoverse-n1 max,sve128=on max,sve256=on"}
REF=${REF:-"/tmp/rng_default.safetensors /tmp/rng_avx2.safetensors"}
HOSTPY=${HOSTPY:-/tmp/fxgen/venv/bin/python}
OUTDIR=${1:-/tmp}
DL=$ROOT.dl

setup() {
  command -v qemu-aarch64 >/dev/null || apt-get install -y qemu-user
  dpkg --add-architecture arm64
  apt-cache show libc6:arm64 >/dev/null 2>&1 || apt-get update
  mkdir -p "$DL/debs" "$DL/whl" "$ROOT/site" "$ROOT/stub"
  # Debian 12's python3.11 and the shared libraries torch and python need.
  (cd "$DL/debs" && apt-get download python3.11-minimal:arm64 libpython3.11-minimal:arm64 \
     libpython3.11-stdlib:arm64 libc6:arm64 libexpat1:arm64 zlib1g:arm64 libffi8:arm64 libssl3:arm64 \
     libbz2-1.0:arm64 liblzma5:arm64 libsqlite3-0:arm64 libncursesw6:arm64 libtinfo6:arm64 \
     libreadline8:arm64 libuuid1:arm64 libgcc-s1:arm64 libstdc++6:arm64 libgomp1:arm64 libnuma1:arm64 \
     libcrypt1:arm64 libdb5.3:arm64 libgdbm6:arm64 media-types)
  for d in "$DL"/debs/*.deb; do dpkg -x "$d" "$ROOT"; done
  # PyPI's aarch64 torch wheel is the CUDA build: it links the CUDA libraries, so they have to be
  # present for `import torch` even though only the CPU is used. pip's --platform does not widen
  # manylinux tags, hence the list.
  local P="--only-binary=:all: --python-version 3.11 --implementation cp --no-deps -d $DL/whl"
  for t in 2_28 2_27 2_26 2_24 2_17; do P="$P --platform manylinux_${t}_aarch64"; done
  P="$P --platform manylinux2014_aarch64"
  # shellcheck disable=SC2086
  pip download $P "torch==$TORCH" numpy safetensors typing_extensions filelock sympy mpmath \
    networkx jinja2 markupsafe fsspec "nvidia-cuda-runtime==13.2.*" "nvidia-cuda-nvrtc==13.2.*" \
    "nvidia-nvjitlink==13.2.*" "nvidia-cublas==13.*" "nvidia-cufft<13" nvidia-cufile \
    "nvidia-cusolver<13" "nvidia-cusparse<13" "nvidia-cudnn-cu13==9.*" "nvidia-cusparselt-cu13" \
    "nvidia-nccl-cu13" "nvidia-nvshmem-cu13==3.*"
  for w in "$DL"/whl/*.whl; do unzip -q -o "$w" -d "$ROOT/site"; done
  # libcupti.so.13 (profiler only) has no aarch64 wheel on the index: a stub that satisfies the
  # loader. Nothing here calls it.
  local syms
  syms=$(for f in "$ROOT"/site/torch/lib/*.so*; do readelf --dyn-syms -W "$f" | awk '$7=="UND"{print $8}'; done \
         | grep '@libcupti.so.13' | sed 's/@.*//' | sort -u)
  for s in $syms; do echo "int $s(void) { return 999; }"; done > "$ROOT/stub/cupti_stub.c"
  echo 'libcupti.so.13 { global: *; };' > "$ROOT/stub/cupti.map"
  local cc="aarch64-linux-gnu-gcc"
  command -v $cc >/dev/null || cc="clang --target=aarch64-linux-gnu -fuse-ld=lld"
  $cc -nostdlib -shared -fPIC -O2 -Wl,-soname,libcupti.so.13 -Wl,--version-script="$ROOT/stub/cupti.map" \
      -o "$ROOT/stub/libcupti.so.13" "$ROOT/stub/cupti_stub.c"
  touch "$ROOT/.ready"
}

# qemu 7.2 passes the host's x86 /proc/cpuinfo through, and pytorch's cpuinfo library segfaults on it
# while torch._C loads. qemu-user looks every absolute path up under -L first, so an ARM-format
# cpuinfo (and the MIDR_EL1 sysfs file xbyak_aarch64 reads) in the sysroot is what the guest sees.
fake_cpu() {  # $1 = CPU part (hex, implementer 0x41 Arm), $2 = variant
  local n i
  n=$(getconf _NPROCESSORS_CONF)
  mkdir -p "$ROOT/proc" "$ROOT/sys/devices/system/cpu/cpu0/regs/identification"
  for ((i = 0; i < n; i++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd cpuid\nCPU implementer\t: 0x41\n' "$i"
    printf 'CPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: 1\n\n' "$2" "$1"
  done > "$ROOT/proc/cpuinfo"
  printf '0x0000000041%xf%03x1\n' "$(($2))" "$(($1))" \
    > "$ROOT/sys/devices/system/cpu/cpu0/regs/identification/midr_el1"
}

[ -e "$ROOT/.ready" ] || setup
LP=$ROOT/stub
for d in cu13 cudnn cusparselt nccl nvshmem; do LP=$LP:$ROOT/site/nvidia/$d/lib; done
qemu-aarch64 --version | head -1
outs=()
for cpu in $CPUS; do
  case $cpu in  # MIDR shown to the guest: N1 for the no-SVE model, V2/V1 for 128/256-bit SVE
    *sve128*) fake_cpu 0xd4f 0x0 ;;
    *sve256*) fake_cpu 0xd40 0x1 ;;
    *) fake_cpu 0xd0c 0x3 ;;
  esac
  out=$OUTDIR/rng_aarch64_$(echo "$cpu" | tr ',=' '__').safetensors
  echo "== qemu-aarch64 -cpu $cpu -> $out"
  (cd "$REPO" && qemu-aarch64 -cpu "$cpu" -L "$ROOT" -E PYTHONPATH="$ROOT/site" -E LD_LIBRARY_PATH="$LP" \
     "$ROOT/usr/bin/python3.11" -W ignore tools/rng_variants/gen_rng_variants.py \
     tests/fixtures/golden/rng.safetensors "$out")
  outs+=("$out")
done

[ -x "$HOSTPY" ] || { echo "no $HOSTPY: skipping the comparison"; exit 0; }
# shellcheck disable=SC2086
"$HOSTPY" - "${outs[@]}" -- $REF <<'EOF'
import json, sys
import torch
from safetensors import safe_open
i = sys.argv.index("--")
outs, refs = sys.argv[1:i], sys.argv[i + 1:]
def load(p):
    with safe_open(p, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, json.loads(f.metadata()["__source__"])
for o in outs:
    a, src = load(o)
    print(o, src)
    for r in refs:
        b, rsrc = load(r)
        assert a.keys() == b.keys(), (o, r)
        diff = {k: int((a[k].view(torch.int32) != b[k].view(torch.int32)).sum()) for k in sorted(a)}
        tot = sum(v.numel() for v in a.values())
        print(f"  vs {r} ({rsrc['cpu_capability']}): {sum(diff.values())}/{tot} values differ bitwise", diff)
EOF
