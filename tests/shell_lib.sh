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

# Runs `fluxgraph probe COMPONENT ARGS --out $out` expecting a clean failure: exit 1, a message
# containing NEEDLE, and no output file (nor its .tmp) left behind. Needs $fg and $out.
probe_expect_failure() { # COMPONENT NAME NEEDLE ARGS...
    local component=$1 name=$2 needle=$3; shift 3
    rm -f "$out" "$out.tmp"
    "$fg" probe "$component" "$@" --out "$out" >"$tmp/log" 2>&1
    local rc=$? ok=0
    [ $rc = 1 ] || { echo "  exit $rc, expected 1"; ok=1; }
    grep -q -- "$needle" "$tmp/log" || { echo "  message lacks '$needle':"; sed 's/^/    /' "$tmp/log"; ok=1; }
    if [ -e "$out" ] || [ -e "$out.tmp" ]; then echo "  output file left behind"; ok=1; fi
    check "$name" $ok
}

# A safetensors file from a raw header: the 8-byte little-endian length, HEADER, then
# DATA_BYTES zero bytes (for hand-made hostile files).
make_st() { # PATH HEADER DATA_BYTES
    local len=${#2} bytes="" i
    for i in 0 1 2 3 4 5 6 7; do bytes+=$(printf '\\x%02x' $(((len >> (8 * i)) & 255))); done
    { printf "$bytes"; printf '%s' "$2"; head -c "$3" /dev/zero; } >"$1"
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
