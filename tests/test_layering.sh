#!/usr/bin/env bash
# tools/check_layering.sh: the repository keeps the layering and file-size rules, and the
# check does catch a lower folder including a higher one, peers including each other, and an
# over-long file (on a synthetic tree).
# Usage: tests/test_layering.sh [BUILD_DIR]    (run from the repository root; BUILD_DIR unused)
set -u
build=${1:-build}
. tests/shell_lib.sh
check_tool=$PWD/tools/check_layering.sh

tools/check_layering.sh . >"$tmp/log" 2>&1
rc=$?
[ $rc = 0 ] || sed 's/^/    /' "$tmp/log"
check "the repository keeps the layering and file-size rules" $rc

# A synthetic tree: every layer folder with one clean file, then one violation at a time.
fresh_tree() {
    rm -rf "$tmp/tree"
    for d in core kernels models text_encoders unet vae sampling nodes graph cli tests; do
        mkdir -p "$tmp/tree/$d"
        printf '#include "core/error.h"\n' >"$tmp/tree/$d/ok.c"
    done
}
expect_violation() { # NAME NEEDLE FILE CONTENT
    fresh_tree
    printf '%s\n' "$4" >"$tmp/tree/$3"
    "$check_tool" "$tmp/tree" >"$tmp/log" 2>&1
    local rc=$? ok=0
    [ $rc = 1 ] || { echo "  exit $rc, expected 1"; ok=1; }
    grep -q -- "$2" "$tmp/log" || { echo "  message lacks '$2':"; sed 's/^/    /' "$tmp/log"; ok=1; }
    check "$1" $ok
}
fresh_tree
"$check_tool" "$tmp/tree" >"$tmp/log" 2>&1
check "a clean synthetic tree passes" $?
expect_violation "core including nodes is refused" "core/ (rank 0) includes nodes/" core/bad.c '#include "nodes/registry.h"'
expect_violation "models including unet is refused" "models/ (rank 2) includes unet/" models/bad.h '  #  include "unet/flux_model.h"'
expect_violation "unet including vae (peers) is refused" "unet/ (rank 3) includes vae/" unet/bad.c '#include "vae/ae_model.h"'
expect_violation "sampling including nodes is refused" "sampling/ (rank 4) includes nodes/" sampling/bad.c '#include "nodes/objects.h"'
expect_violation "a product file including tests/ is refused" "includes tests/" graph/bad.c '#include "tests/testing.h"'
expect_violation "an 801-line file is refused" "801 lines" nodes/long.c "$(yes 'int x;' | head -n 801)"
fresh_tree
printf '#include "vae/latent_format.h"\n#include "unet/flux_model.h"\n' >"$tmp/tree/sampling/up.c"
"$check_tool" "$tmp/tree" >"$tmp/log" 2>&1
check "sampling may include unet and vae" $?
finish
