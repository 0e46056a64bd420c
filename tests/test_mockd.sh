#!/bin/sh
# test_mockd.sh -- acore-mockd as a parent process starts it: with
# --port 0 it prints exactly one line with its URL (the bare URL with
# --url-only) once it listens, and flushes it, so a pipe reader gets it at
# once; SIGTERM and SIGINT stop it with status 0; bad flags exit 2 with
# one line naming the flag.  Run by `make check` with top_builddir set.
ME=test_mockd
MOCKD="${top_builddir:?set top_builddir}/sdk/mock/acore-mockd"
[ -x "$MOCKD" ] || { echo "$ME: ERROR: $MOCKD is not built" >&2; exit 99; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acore-mockd-test.XXXXXX") || exit 99
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' HUP INT PIPE TERM

passed=0
failed=0
check() { # check NAME CONDITION...
    name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "PASS: $name"
    else
        failed=$((failed + 1))
        echo "FAIL: $name"
        echo "    stdout: $(head -c 300 "$tmp/out" 2>/dev/null)"
        echo "    stderr: $(head -c 300 "$tmp/err" 2>/dev/null)"
    fi
}

# start_mockd ARGS...: start it with stdout into a FIFO, read the first
# line the way a parent would (blocking until it is there), keep reading
# the rest into $tmp/out in the background.
start_mockd() {
    rm -f "$tmp/fifo" "$tmp/out" "$tmp/err"
    mkfifo "$tmp/fifo"
    "$MOCKD" --port 0 --quiet "$@" >"$tmp/fifo" 2>"$tmp/err" &
    pid=$!
    exec 3<"$tmp/fifo"
    IFS= read -r line <&3
    { IFS= read -r more && printf '%s\n' "$more"; cat; } <&3 >"$tmp/out" &
    reader=$!
    exec 3<&-
}

# stop_mockd SIGNAL: send it, wait; $rc is its exit status.
stop_mockd() {
    kill -s "$1" "$pid"
    wait "$pid"
    rc=$?
    pid=
    wait "$reader"
}

is_url() { printf '%s\n' "$1" | grep -Eq '^http://127\.0\.0\.1:[1-9][0-9]*$'; }

start_mockd --url-only
check "--url-only: the first line is the bare URL" is_url "$line"
stop_mockd TERM
check "SIGTERM: exit status 0" [ "$rc" -eq 0 ]
check "--url-only: nothing else on stdout" [ ! -s "$tmp/out" ]

start_mockd
check "default: 'acore-mockd listening on URL'" is_url "${line#acore-mockd listening on }"
check "default: the line starts as documented" [ "${line%% http*}" = "acore-mockd listening on" ]
stop_mockd INT
check "SIGINT: exit status 0" [ "$rc" -eq 0 ]
check "default: one line only" [ ! -s "$tmp/out" ]

start_mockd --url-only --max-connections 100 --idle-timeout 0
check "--max-connections and --idle-timeout are taken" is_url "$line"
stop_mockd TERM

for bad in "--max-connections 0" "--max-connections many" "--idle-timeout -1" "--idle-timeout 90000"; do
    # shellcheck disable=SC2086
    "$MOCKD" --port 0 $bad >"$tmp/out" 2>"$tmp/err"
    rc=$?
    flag=${bad%% *}
    check "$bad: exit 2, one line naming the flag" \
        sh -c "[ $rc -eq 2 ] && [ ! -s '$tmp/out' ] && [ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q -- '$flag' '$tmp/err'"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
