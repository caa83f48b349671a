# Shared by the shell tests (source it after setting $build): a private temp dir removed on
# exit, `check NAME STATUS` (STATUS 0 = pass) and `finish`, which prints the closing
# "N passed, N failed" line the runner reads and sets the exit status.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fluxgraph-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() { # NAME CONDITION-EXIT-CODE
    if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"
    else failed=$((failed + 1)); echo "FAIL $1"; fi
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
