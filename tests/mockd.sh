# shellcheck shell=sh
# mockd.sh -- shell functions shared by the tests that run programs the
# way a user does, against acore-mockd (test_cli.sh, test_examples.sh):
# a private temporary folder and environment, counting passes and
# failures, running a program with a time limit, checks on what it
# printed, starting acore-mockd on a free loopback port and writing a
# config whose provider "mock" is this build's openai plugin at it.
#
# Sourced, not run:
#     ME=test_cli                  # the name in error messages
#     top_builddir=/abs/build/dir
#     . "$(dirname "$0")/mockd.sh"
#     mockd_begin acore-test       # the prefix of the temporary folder
# Everything lives in $tmp, which the exit trap removes with the server.

MOCKD="${top_builddir:?set top_builddir before sourcing mockd.sh}/sdk/mock/acore-mockd"
PLUGDIR="$top_builddir/plugins/openai/.libs"

# The test could not run at all: automake's "hard error".
hard_error() {
    echo "$ME: ERROR: $*" >&2
    exit 99
}

mockpid=
runpid=
mockd_cleanup() {
    if [ -n "$runpid" ]; then
        kill -9 "$runpid" 2>/dev/null
        wait "$runpid" 2>/dev/null
    fi
    if [ -n "$mockpid" ]; then
        kill "$mockpid" 2>/dev/null
        wait "$mockpid" 2>/dev/null
    fi
    rm -rf "$tmp"
}

# mockd_begin PREFIX: check that acore-mockd and the openai plugin are
# built, make $tmp, and clean up on exit.  Nothing from the caller's
# environment may steer the runs: no config search outside $tmp, no real
# API key, no extra plugin folders.
mockd_begin() {
    [ -x "$MOCKD" ] || hard_error "$MOCKD is not built"
    [ -f "$PLUGDIR/openai.so" ] || hard_error "$PLUGDIR/openai.so is not built"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || hard_error "mktemp failed"
    trap mockd_cleanup EXIT
    trap 'exit 99' HUP INT PIPE TERM
    unset ABSTRACTCORE_CONFIG ABSTRACTCORE_PLUGIN_PATH ABSTRACTCORE_MOCKD OPENAI_API_KEY \
        ANTHROPIC_API_KEY XDG_DATA_HOME
    HOME="$tmp/home"
    XDG_CONFIG_HOME="$tmp/xdg"
    # Never the system-wide configuration of whatever is installed here.
    ABSTRACTCORE_CONFIG_NOSYSTEM=1
    export HOME XDG_CONFIG_HOME ABSTRACTCORE_CONFIG_NOSYSTEM
    mkdir -p "$HOME" "$XDG_CONFIG_HOME"
}

passed=0
failed=0
pass() {
    passed=$((passed + 1))
    echo "PASS: $1"
}
fail() {
    failed=$((failed + 1))
    echo "FAIL: $1"
    echo "    exit status: $rc"
    echo "    stdout: $(head -c 600 "$tmp/out")"
    echo "    stderr: $(head -c 600 "$tmp/err")"
}
# The last line, and the exit status: 0 when nothing failed.
mockd_summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# run SECONDS CMD...: run CMD in $RUN_DIR with stdin from $RUN_STDIN,
# stdout in $tmp/out, stderr in $tmp/err, status in $rc and the elapsed
# time in tenths of a second in $ticks.  A run that outlives SECONDS is
# killed (status 137), so a hang fails the test instead of stalling make
# check.
RUN_STDIN=/dev/null
RUN_DIR=.
run() {
    limit=$(($1 * 10))
    shift
    (cd "$RUN_DIR" && exec "$@") <"$RUN_STDIN" >"$tmp/out" 2>"$tmp/err" &
    runpid=$!
    ticks=0
    while kill -0 "$runpid" 2>/dev/null; do
        ticks=$((ticks + 1))
        if [ "$ticks" -gt "$limit" ]; then
            kill -9 "$runpid" 2>/dev/null
            echo "(killed: still running after $((limit / 10)) s)" >>"$tmp/err"
            break
        fi
        sleep 0.1
    done
    wait "$runpid"
    rc=$?
    runpid=
}

# Checks on the last run.
out_is() { [ "$(cat "$tmp/out")" = "$1" ]; }
out_has() { grep -q -- "$1" "$tmp/out"; }
out_lines() { [ "$(wc -l <"$tmp/out" | tr -d ' ')" -eq "$1" ]; }
out_empty() { [ ! -s "$tmp/out" ]; }
err_has() { grep -q -- "$1" "$tmp/err"; }
err_lines() { [ "$(wc -l <"$tmp/err" | tr -d ' ')" -eq "$1" ]; }
err_empty() { [ ! -s "$tmp/err" ]; }
no_secret() { ! grep -q -- "$SECRET" "$tmp/out" "$tmp/err"; }

# mockd_start [OPTION...]: start acore-mockd on a free port with the
# scenarios in $tmp/script.conf (and the options given); sets $url and
# $mockpid.
mockd_start() {
    # A restart must not read the URL line the previous server left in
    # the file before the new one truncates it (the redirection happens
    # in the background job, maybe after the first read below).
    rm -f "$tmp/mockd.out"
    "$MOCKD" --port 0 "$@" --script "$tmp/script.conf" >"$tmp/mockd.out" 2>"$tmp/mockd.err" &
    mockpid=$!
    url=
    i=0
    while [ $i -lt 100 ]; do
        url=$(sed -n '1s/^acore-mockd listening on \(http:[^ ]*\).*$/\1/p' "$tmp/mockd.out" 2>/dev/null)
        [ -n "$url" ] && break
        kill -0 "$mockpid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$url" ] || hard_error "acore-mockd did not start: $(cat "$tmp/mockd.out" "$tmp/mockd.err")"
    echo "# acore-mockd at $url"
}

# mockd_config: write $CONF ($tmp/acore.conf): the openai plugin of this
# build as the default provider "mock" at the server, with the key
# $SECRET, model "default" and no retries.
mockd_config() {
    CONF="$tmp/acore.conf"
    cat >"$CONF" <<EOF
abstractcore = {
  plugin_path = [ "$PLUGDIR" ];
  default_provider = "mock";
};
providers = (
  { name = "mock"; plugin = "openai"; base_url = "$url/v1";
    api_key = "$SECRET"; default_model = "default"; max_retries = 0; }
);
EOF
}
