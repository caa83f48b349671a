#!/usr/bin/env bash
# `make test-aarch64`: cross-builds the CPU-only fluxgraph and every test program for aarch64
# (the DGX Spark's architecture) with Debian's cross toolchain, and runs THE test suite
# (tests/run_tests.sh) on them under qemu-user. Not part of .ci/run: emulation is slow.
#
# Dependencies (installed here when run as root, like tools/configure.sh does for the host):
# gcc-aarch64-linux-gnu, qemu-user, and the arm64 (Debian multiarch) builds of the libraries.
# libgsl-dev is not co-installable across architectures (it would remove the host's), so only
# the arm64 GSL runtime libraries are installed and linked through a small pkg-config shim in
# $BUILD/cross/, with the host's (architecture-independent) GSL headers.
#
# The tests run the programs through wrappers: $BUILD/qemu/fluxgraph and
# $BUILD/qemu/tests/test_* each `exec qemu-aarch64 REAL_PROGRAM "$@"`, so the unchanged runner
# is given $BUILD/qemu as its build folder and needs no binfmt_misc.
#
# Usage: tools/test_aarch64.sh [BUILD_DIR]   (default build-aarch64; run from the repo root)
# Variables: JOBS (parallel compile jobs, default nproc), QEMU (default qemu-aarch64),
# QEMU_CPU (passed to qemu; default qemu's own, "max"), FG_TEST_TIME_SCALE (default 30: the
# factor on the tests' wall-clock limits for speed checks, see tests/testing.h).
set -u
build=${1:-build-aarch64}
triplet=aarch64-linux-gnu
cc=$triplet-gcc
qemu=${QEMU:-qemu-aarch64}
libdir=/usr/lib/$triplet
arm64_pkgs="libjansson-dev:arm64 libpng-dev:arm64 libjpeg62-turbo-dev:arm64 libopenblas-dev:arm64 libutf8proc-dev:arm64 libgsl27:arm64 libgslcblas0:arm64"
host_pkgs="gcc-$triplet qemu-user pkg-config libgsl-dev"
pc_libdir="$libdir/pkgconfig:/usr/share/pkgconfig"

deps_ok() {
    command -v "$cc" >/dev/null 2>&1 && command -v "$qemu" >/dev/null 2>&1 &&
        command -v pkg-config >/dev/null 2>&1 &&
        [ -e "$libdir/libgsl.so.27" ] && [ -e "$libdir/libgslcblas.so.0" ] && [ -e /usr/include/gsl/gsl_math.h ] &&
        PKG_CONFIG_LIBDIR=$pc_libdir pkg-config --exists jansson libpng zlib openblas libutf8proc libjpeg 2>/dev/null
}

if ! deps_ok; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "test-aarch64: missing the aarch64 cross toolchain, qemu-user or arm64 libraries." >&2
        echo "Installing them needs root and apt-get (Debian/Ubuntu multiarch). Run as root:" >&2
        echo "  dpkg --add-architecture arm64 && apt-get update && apt-get install -y --no-install-recommends $host_pkgs $arm64_pkgs" >&2
        exit 1
    fi
    echo "test-aarch64: installing: $host_pkgs $arm64_pkgs"
    export DEBIAN_FRONTEND=noninteractive
    { dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64; } &&
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $host_pkgs $arm64_pkgs >/dev/null || {
        echo "test-aarch64: apt-get install failed" >&2; exit 1; }
    deps_ok || { echo "test-aarch64: dependencies still missing after install" >&2; exit 1; }
fi

# The GSL shim: libgsl.so / libgslcblas.so links to the arm64 runtime libraries and a gsl.pc.
cross="$build/cross"
mkdir -p "$cross/lib" "$cross/pkgconfig"
cross_abs=$(cd "$cross" && pwd)
ln -sf "$libdir/libgsl.so.27" "$cross/lib/libgsl.so"
ln -sf "$libdir/libgslcblas.so.0" "$cross/lib/libgslcblas.so"
gsl_version=$(dpkg-query -W -f='${Version}' libgsl27:arm64 2>/dev/null | sed 's/+.*//; s/^[0-9]*://')
cat >"$cross/pkgconfig/gsl.pc" <<EOF
Name: GSL
Description: GNU Scientific Library (arm64 runtime, host headers; written by tools/test_aarch64.sh)
Version: ${gsl_version:-2.7.1}
Libs: -L$cross_abs/lib -lgsl -lgslcblas -lm
Cflags: -I/usr/include
EOF

export PKG_CONFIG_LIBDIR="$cross_abs/pkgconfig:$pc_libdir"
export PKG_CONFIG_PATH=
export CC=$cc
start=$SECONDS
echo "test-aarch64: building $build with $("$cc" --version | head -n 1)"
# Under `make test-aarch64 -jN` the jobserver is inherited; otherwise -j JOBS (default nproc).
jobs=-j"${JOBS:-$(nproc)}"
case " ${MAKEFLAGS:-} " in *jobserver*) jobs= ;; esac
${MAKE:-make} --no-print-directory $jobs BUILD="$build" FG_NO_CUDA=1 CC="$cc" all || {
    echo "test-aarch64: cross build failed" >&2; exit 1; }
# ELF e_machine (offset 18) is 183 (EM_AARCH64) for an aarch64 program.
[ "$(od -An -tu2 -j18 -N2 "$build/fluxgraph" | tr -d ' ')" = 183 ] || {
    echo "test-aarch64: $build/fluxgraph is not an aarch64 program" >&2; exit 1; }
build_s=$((SECONDS - start))

# The wrappers.
wrap="$build/qemu"
rm -rf "$wrap"
mkdir -p "$wrap/tests"
build_abs=$(cd "$build" && pwd)
qemu_path=$(command -v "$qemu")
write_wrapper() { # WRAPPER REAL
    printf '#!/bin/sh\nexec "%s" %s"%s" "$@"\n' "$qemu_path" "${QEMU_CPU:+-cpu $QEMU_CPU }" "$2" >"$1"
    chmod +x "$1"
}
write_wrapper "$wrap/fluxgraph" "$build_abs/fluxgraph"
for t in "$build"/tests/test_*; do
    [ -f "$t" ] && [ -x "$t" ] && write_wrapper "$wrap/tests/$(basename "$t")" "$build_abs/tests/$(basename "$t")"
done

# Speed checks (a 1 MB prompt within N s, ...) get FG_TEST_TIME_SCALE times their limit.
export FG_TEST_TIME_SCALE=${FG_TEST_TIME_SCALE:-30}
echo "test-aarch64: $("$qemu" --version | head -n 1)"
"$wrap/fluxgraph" version | sed 's/^/  /'
start=$SECONDS
bash tests/run_tests.sh "$wrap"
rc=$?
echo "test-aarch64: build ${build_s}s, tests $((SECONDS - start))s under qemu-user"
exit $rc
