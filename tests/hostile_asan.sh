#!/usr/bin/env bash
# The hostile corpora under AddressSanitizer + UBSan (any report aborts the program): the
# safetensors, image and workflow corpora through their test programs (which check each file's
# error), and every hostile file through the CLI commands that read such files (validate,
# convert, info), which must fail cleanly (exit 1 or 2), never crash.
# Usage: tests/hostile_asan.sh BUILD_DIR   (an ASan build: `make test-hostile-asan` makes one)
set -u
build=${1:?usage: tests/hostile_asan.sh BUILD_DIR}
. tests/shell_lib.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fg="$build/fluxgraph"

for prog in test_safetensors test_image test_graph; do
    "$build/tests/$prog" >"$tmp/$prog.log" 2>&1
    rc=$?
    [ $rc = 0 ] || tail -n 20 "$tmp/$prog.log" | sed 's/^/    /'
    check "$prog (hostile corpora) under ASan+UBSan" $rc
done

# Exit 0 (a valid file), 1 or 2 (refused) are clean; a sanitizer abort or a signal is not.
clean_exit() { [ "$1" -le 2 ]; }
bad=0
for f in tests/hostile_workflows/*.json tests/hostile_workflows/*.png tests/hostile_images/*.png; do
    [ -e "$f" ] || continue
    for cmd in validate convert; do
        "$fg" $cmd "$f" >/dev/null 2>"$tmp/err"
        rc=$?
        clean_exit $rc || { echo "  $cmd $f: exit $rc"; tail -n 5 "$tmp/err" | sed 's/^/    /'; bad=1; }
    done
done
check "validate/convert of every hostile workflow and image: clean exits" $bad
bad=0
for f in tests/hostile/*.safetensors; do
    "$fg" info "$f" >/dev/null 2>"$tmp/err"
    rc=$?
    clean_exit $rc || { echo "  info $f: exit $rc"; tail -n 5 "$tmp/err" | sed 's/^/    /'; bad=1; }
done
check "info of every hostile safetensors file: clean exits" $bad
finish
