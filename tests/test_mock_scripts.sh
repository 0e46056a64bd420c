#!/bin/sh
# test_mock_scripts.sh -- the mock scripts installed for plugin authors and
# testers (sdk/mock/scripts, installed under share/abstractcore/mock): each
# loads in acore-mockd, and its models do what the script's comments say,
# seen through acore and this build's openai plugin (make check).
# Ends with "N passed, N failed"; exit 0 all passed, 1 a check failed, 99
# the test could not run.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
ME=test_mock_scripts
. "$(dirname "$0")/mockd.sh"
ACORE="$top_builddir/cli/acore"
SCRIPTS="$top_srcdir/sdk/mock/scripts"
[ -x "$ACORE" ] || hard_error "$ACORE is not built"
mockd_begin acore-mock-scripts
SECRET="sk-test-mock-scripts-0001"

# with_script NAME: (re)start acore-mockd on the shipped script NAME.
with_script() {
    if [ -n "$mockpid" ]; then
        kill "$mockpid" 2>/dev/null
        wait "$mockpid" 2>/dev/null
        mockpid=
    fi
    cp "$SCRIPTS/$1" "$tmp/script.conf" || hard_error "no $SCRIPTS/$1"
    mockd_start
    mockd_config
}

# ask MODEL PROMPT [ACORE OPTION...]: acore's answer in $tmp/out, $tmp/err, $rc.
ask() {
    model=$1
    prompt=$2
    shift 2
    run 30 "$ACORE" -C "$CONF" -m "$model" "$@" "$prompt"
}

check() { # NAME CONDITION...
    name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# ---------------------------------------------------------------------
with_script scenarios.conf
ask echo "repeat after me"
check "scenarios.conf: echo repeats the prompt" \
    sh -c '[ "$0" -eq 0 ] && [ "$(cat "$1/out")" = "repeat after me" ]' "$rc" "$tmp"
ask default "hi"
check "scenarios.conf: the default reply" \
    sh -c '[ "$0" -eq 0 ] && [ "$(cat "$1/out")" = "Hello! I am a mock model." ]' "$rc" "$tmp"
ask tools "weather?" -o json
check "scenarios.conf: tools calls get_weather" \
    sh -c '[ "$0" -eq 0 ] && grep -q "\"name\":\"get_weather\"" "$1/out"' "$rc" "$tmp"
ask overloaded "hi"
check "scenarios.conf: overloaded fails inside the stream" \
    sh -c '[ "$0" -eq 1 ] && grep -q "Overloaded" "$1/err"' "$rc" "$tmp"
ask drop "hi"
check "scenarios.conf: drop cuts the stream" sh -c '[ "$0" -eq 1 ]' "$rc"
ask garbage "hi" --no-stream
check "scenarios.conf: garbage is refused" sh -c '[ "$0" -eq 1 ]' "$rc"

# ---------------------------------------------------------------------
with_script errors.conf
for m in bad-request:400:"max_tokens must be positive" \
    unauthorized:401:"Incorrect API key provided" \
    rate-limited:429:"Rate limit reached" quota:429:"exceeded your current quota" \
    server-error:500:"The server had an error" unavailable:503:"currently overloaded" \
    overloaded:529:"Overloaded"; do
    model=${m%%:*}
    rest=${m#*:}
    status=${rest%%:*}
    text=${rest#*:}
    ask "$model" "hi"
    check "errors.conf: $model is HTTP $status" \
        sh -c '[ "$0" -eq 1 ] && grep -q "HTTP $1" "$3/err" && grep -q -- "$2" "$3/err"' \
        "$rc" "$status" "$text" "$tmp"
done
ask bad-gateway "hi"
check "errors.conf: bad-gateway is an HTML 502" \
    sh -c '[ "$0" -eq 1 ] && grep -q "HTTP 502" "$1/err"' "$rc" "$tmp"
ask closer "hi"
check "errors.conf: closer answers nothing" sh -c '[ "$0" -eq 1 ]' "$rc"
check "errors.conf: the key is never printed" no_secret

# ---------------------------------------------------------------------
with_script tools.conf
ask weather "weather in Paris?" -o json
check "tools.conf: weather calls get_weather for Paris" \
    sh -c '[ "$0" -eq 0 ] && grep -q "call_w1" "$1/out" && grep -q "Paris" "$1/out"' "$rc" "$tmp"
ask parallel "weather?" -o json
check "tools.conf: parallel makes two calls" \
    sh -c '[ "$0" -eq 0 ] && grep -q "call_p1" "$1/out" && grep -q "call_p2" "$1/out"' "$rc" "$tmp"

mockd_summary
