#!/bin/sh
# test_examples.sh -- the example programs of docs/api.md (examples/*.c),
# run as a user runs them (make check).
#
# Starts acore-mockd (the project's mock LLM server) on a free loopback
# port with a script of scenarios, writes a temporary config whose
# plugin_path is this build tree's openai plugin, runs every example
# against it and checks what it prints: the reply text, the streamed text
# and usage, the gathered replies, a cancel that comes early and keeps the
# partial text, a session file written and loaded back, a tool call run
# and answered, a session compacting itself past a token threshold, a tool
# loop of three rounds run by the library, an image and a document attached
# to a question, documents ranked by their embeddings, and
# one-line errors with the documented exit statuses.
# Nothing talks to anything but 127.0.0.1.  The steps it shares with
# test_cli.sh (the server, the config, running and checking a program) are
# in mockd.sh.
#
# Run by `make check` from the top build directory; top_builddir may also
# be given in the environment.  Ends with one line "N passed, N failed".
# Exit status: 0 all passed, 1 a check failed, 99 (automake's "hard
# error") the test could not run at all.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
ME=test_examples
. "$(dirname "$0")/mockd.sh"
EX="$top_builddir/examples"
EXAMPLES="sync async gather cancel stream session context tools tool_loop structured vision errors embed loop_poll"

for e in $EXAMPLES; do
    [ -x "$EX/$e" ] || hard_error "$EX/$e is not built (make check builds it)"
done
mockd_begin acore-examples
# An example that writes a file in its working directory writes it here.
RUN_DIR=$tmp

# ---------------------------------------------------------------------
# docs/api.md shows excerpts of the examples: every line of each excerpt
# must still be in its file, in the same order (a line "/* ... */" that
# starts and ends with "..." marks what was left out).
# ---------------------------------------------------------------------

rc=0
: >"$tmp/out"
awk -v dir="$top_srcdir/examples" -v names="$EXAMPLES" '
function load(f,    line, n) {
    split("", src)
    n = 0
    while ((getline line < f) > 0)
        src[++n] = line
    close(f)
    return n
}
/^Complete program: `examples\/[a-z_]*\.c`$/ {
    name = $0
    sub(/^Complete program: `examples\//, "", name)
    sub(/\.c`$/, "", name)
    seen[name] = 1
    nsrc = load(dir "/" name ".c")
    if (nsrc == 0) {
        print "api.md points at examples/" name ".c, which is missing or empty"
        bad++
    }
    want = 1
    next
}
want && /^```c$/ { inblock = 1; want = 0; pos = 0; next }
inblock && /^```$/ { inblock = 0; next }
inblock {
    if ($0 ~ /^ *\/\* \.\.\. .* \.\.\. \*\/$/)
        next
    for (i = pos + 1; i <= nsrc; i++)
        if (src[i] == $0)
            break
    if (i > nsrc) {
        print "api.md, excerpt of " name ".c: not in the file (or out of order): " $0
        bad++
    } else {
        pos = i
    }
}
END {
    n = split(names, all, " ")
    for (k = 1; k <= n; k++)
        if (!(all[k] in seen)) {
            print "api.md has no \"Complete program: `examples/" all[k] ".c`\""
            bad++
        }
    exit bad > 0
}' "$top_srcdir/docs/api.md" >"$tmp/err" 2>&1 || rc=1
if [ $rc -eq 0 ]; then
    pass "docs/api.md points at every example, and its excerpts match the files"
else fail "docs/api.md excerpts"; fi

# ---------------------------------------------------------------------
# The mock server and the config
# ---------------------------------------------------------------------

REPLY="Hello from the examples mock."
ANSWER="It is 21 degrees and clear in Paris."
LOOP_ANSWER="Paris: 69.8 F and clear; Oslo: 53.6 F and rain."
cat >"$tmp/script.conf" <<EOF
# Scenarios are chosen by the request's model (the examples' -m).
reply = "$REPLY";
chunks = 5;
usage = [7, 5];
scenarios = (
  { model = "echo"; echo = true; },
  # Calls the tool, then answers in words once the result comes back.
  { model = "tools"; reply = "";
    tool_calls = ( { id = "call_1"; name = "get_weather";
                     arguments = "{\"city\": \"Paris\"}"; } );
    after_tool_result = "$ANSWER"; },
  # tool_loop: two calls at once, then three (one with arguments that do
  # not match the tool's schema), then the answer.
  { model = "toolloop"; reply = "";
    steps = ( { tool_calls = ( { id = "w1"; name = "get_weather"; arguments = "{\"city\": \"Paris\"}"; },
                               { id = "w2"; name = "get_weather"; arguments = "{\"city\": \"Oslo\"}"; } ); },
              { tool_calls = ( { id = "f1"; name = "to_fahrenheit"; arguments = "{\"celsius\": 21}"; },
                               { id = "f2"; name = "to_fahrenheit"; arguments = "{\"celsius\": 12}"; },
                               { id = "w3"; name = "get_weather"; arguments = "{\"town\": \"Rome\"}"; } ); },
              { reply = "$LOOP_ANSWER"; } ); },
  # Never stops calling tools.
  { model = "toolforever"; reply = "";
    tool_calls = ( { name = "get_weather"; arguments = "{\"city\": \"Lima\"}"; } ); },
  { model = "unauthorized"; status = 401; error_message = "invalid key"; },
  { model = "nosummary"; status = 400; error_message = "no summaries here"; },
  { model = "midstream"; stream_error = "the model fell over"; },
  # 20 s of reply in 1000 pieces: only a cancel ends it in time.
  { model = "slow"; reply_len = 20000; chunks = 1000; delay_ms = 20; },
  # A model without a tool API writes its call into the text (prompted).
  { model = "tooltext";
    steps = ( { reply = "Checking. <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>"; },
              { reply = "$ANSWER"; } ); },
  # Structured output: prose first, then a year out of range, then right.
  { model = "scientist";
    steps = ( { reply = "Marie Curie, of course."; },
              { reply = "{\"name\": \"Marie Curie\", \"born\": 867, \"field\": \"physics\"}"; },
              { reply = "{\"name\": \"Marie Curie\", \"born\": 1867, \"field\": \"physics\"}"; } ); },
  { model = "stubborn"; reply = "{\"name\": \"Curie\"}"; }
);
EOF

mockd_start --quiet

# The key is a marker: no example may ever print it or save it.
SECRET="sk-examples-NEVER-PRINT-7070"
mockd_config

# E NAME ARGS...: run examples/NAME with this config.
E() {
    name=$1
    shift
    run 20 "$EX/$name" -c "$CONF" "$@"
}

# ---------------------------------------------------------------------
# sync
# ---------------------------------------------------------------------

E sync
if [ $rc -eq 0 ] && out_is "$REPLY" &&
   err_has '^\[mock/default: 7 tokens in, 5 out, finish stop, [0-9]* ms\]$'; then
    pass "sync prints the reply, and provider, model, usage on stderr"
else fail "sync"; fi

E sync -m echo "Repeat after me"
if [ $rc -eq 0 ] && out_is "Repeat after me"; then
    pass "sync sends the PROMPT operand to the -m model"
else fail "sync -m echo PROMPT"; fi

ABSTRACTCORE_CONFIG="$CONF" run 20 "$EX/sync"
if [ $rc -eq 0 ] && out_is "$REPLY"; then
    pass "sync finds the config through \$ABSTRACTCORE_CONFIG"
else fail "sync with ABSTRACTCORE_CONFIG"; fi

run 10 "$EX/sync" -c "$tmp/missing.conf"
if [ $rc -eq 1 ] && err_lines 1 && err_has '^sync: .*missing.conf' && out_empty; then
    pass "sync with a missing config file exits 1 with one line naming it"
else fail "sync -c missing"; fi

E sync -p no-such-provider
if [ $rc -eq 1 ] && err_lines 1 && err_has '^sync: .*no-such-provider'; then
    pass "sync with an unknown provider exits 1 with one line"
else fail "sync -p unknown"; fi

E sync -x
if [ $rc -eq 2 ] && err_lines 1 && err_has '^usage: sync '; then
    pass "sync with a bad option exits 2 with the usage line"
else fail "sync -x"; fi

# ---------------------------------------------------------------------
# async
# ---------------------------------------------------------------------

E async
if [ $rc -eq 0 ] && out_is "$REPLY" && err_has '^\[usage: 7 in, 5 out\]$'; then
    pass "async streams the reply from its callback and reports usage"
else fail "async"; fi

E async -m midstream
if [ $rc -eq 1 ] && out_has "$REPLY" && err_has '^async: mock: .*fell over'; then
    pass "async reports a failed request on one line, exit 1"
else fail "async -m midstream"; fi

# ---------------------------------------------------------------------
# gather
# ---------------------------------------------------------------------

E gather -m echo
if [ $rc -eq 0 ] && out_lines 3 &&
   [ "$(sed -n 1p "$tmp/out")" = "0: Name a prime number." ] &&
   [ "$(sed -n 2p "$tmp/out")" = "1: Name a colour." ] &&
   [ "$(sed -n 3p "$tmp/out")" = "2: Name a planet." ] && err_empty; then
    pass "gather runs three requests and prints each reply in order"
else fail "gather"; fi

E gather -m echo one two three four five
if [ $rc -eq 0 ] && out_lines 5 && [ "$(sed -n 5p "$tmp/out")" = "4: five" ]; then
    pass "gather takes its prompts from the operands"
else fail "gather PROMPT..."; fi

E gather -m unauthorized a b
if [ $rc -eq 1 ] && err_lines 2 && err_has '^gather: 0: mock: http: .*401' &&
   err_has '^gather: 1: mock: http: '; then
    pass "gather reports each failed request on its own line, exit 1"
else fail "gather -m unauthorized"; fi

# ---------------------------------------------------------------------
# cancel
# ---------------------------------------------------------------------

E cancel -m slow
bytes=$(sed -n '1s/^cancelled after \([0-9]*\) bytes: .*$/\1/p' "$tmp/out")
if [ $rc -eq 0 ] && [ -n "$bytes" ] && [ "$bytes" -gt 0 ] && [ "$bytes" -lt 20000 ] &&
   [ "$ticks" -lt 50 ]; then
    pass "cancel stops a 20 s reply early ($((ticks * 100)) ms) and keeps $bytes bytes"
else fail "cancel -m slow (ran $((ticks * 100)) ms)"; fi

E cancel
if [ $rc -eq 0 ] && out_is "finished in time: $REPLY"; then
    pass "cancel leaves a reply that finished in time alone"
else fail "cancel, fast reply"; fi

# ---------------------------------------------------------------------
# stream
# ---------------------------------------------------------------------

E stream
if [ $rc -eq 0 ] && out_is "$REPLY" && err_has '^\[finish: stop\]$'; then
    pass "stream prints the events it pulls, and the finish reason"
else fail "stream"; fi

E stream -m midstream
if [ $rc -eq 1 ] && out_has "$REPLY" && err_lines 1 &&
   err_has '^stream: mock: .*fell over'; then
    pass "stream keeps the text before an in-stream error, then exits 1 with one line"
else fail "stream -m midstream"; fi

# ---------------------------------------------------------------------
# session
# ---------------------------------------------------------------------

E session -m echo "$tmp/chat.json"
if [ $rc -eq 0 ] && [ -s "$tmp/chat.json" ] && grep -q "My name is Alice." "$tmp/chat.json" &&
   ! grep -q -- "$SECRET" "$tmp/chat.json" &&
   out_has '^> What is my name?$' &&
   out_has "^0 user *My name is Alice\.$" &&
   out_has "^1 assistant *My name is Alice\.$" &&
   out_has "^2 user *What is my name?$" &&
   out_has "^3 assistant *What is my name?$" && ! out_has "^4 "; then
    pass "session saves the history (no key), loads it back and goes on"
else fail "session"; fi

E session -m echo
if [ $rc -eq 0 ] && [ -s "$tmp/chat.json" ]; then
    pass "session saves to chat.json in the working directory by default"
else fail "session default file"; fi

E session "$tmp/no-such-dir/chat.json"
if [ $rc -eq 1 ] && err_lines 1 && err_has '^session: .*io: .*no-such-dir'; then
    pass "session that cannot save exits 1 with one line naming the file"
else fail "session unwritable file"; fi

# ---------------------------------------------------------------------
# context
# ---------------------------------------------------------------------

E context -m echo
if [ $rc -eq 0 ] && out_has '^about 36 input tokens$' &&
   out_has '^> Where should I go first[?]$' && out_has '^Where should I go first[?]$' &&
   out_has '^> Summarise the plan in one line[.]$' &&
   out_has '^0 user      summary Summary of the conversation so far' &&
   out_has '^1 user      Which museums are open on Mondays[?]$' &&
   out_has '^4 assistant Summarise the plan in one line[.]$' && ! out_has '^5 \(user\|assistant\) ' &&
   out_has '^5 messages compacted$' && err_empty; then
    pass "context sends a history whole, and a session compacts itself past its threshold"
else fail "context"; fi

E context -m echo -s nosummary
if [ $rc -eq 0 ] && out_has '^0 user      Plan a three-day trip' &&
   out_has '^0 messages compacted$' &&
   err_has '^context: warning: the history was not compacted: HTTP 400: no summaries here'; then
    pass "context: a summariser that fails leaves the history whole, with a warning per turn"
else fail "context -s nosummary"; fi

# ---------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------

E tools -m tools
if [ $rc -eq 0 ] && out_is "$ANSWER" &&
   err_has '^\[tool call\] get_weather({"city": *"Paris"}) -> {"celsius":21,"sky":"clear"}$' &&
   [ "$(grep -c '^\[tool call\]' "$tmp/err")" -eq 1 ]; then
    pass "tools runs the model's tool call once, sends the result, prints the answer"
else fail "tools"; fi

E tools -m tooltext -t prompted
if [ $rc -eq 0 ] && out_is "$ANSWER" &&
   err_has '^\[tool call\] get_weather({"city": *"Paris"}) -> {"celsius":21,"sky":"clear"}$'; then
    pass "tools -t prompted reads the call out of the reply text"
else fail "tools -t prompted"; fi

# ---------------------------------------------------------------------
# vision
# ---------------------------------------------------------------------

printf '# Minutes\nThe launch moves to May.\n' >"$tmp/minutes.md"
echo 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' |
    base64 -d >"$tmp/pixel.png"
E vision "$tmp/pixel.png" "$tmp/minutes.md"
if [ $rc -eq 0 ] && out_is "$REPLY" && err_has '^\[2 attachment(s) to mock/default: 7 tokens in\]$'; then
    pass "vision attaches an image and a document and prints the reply"
else fail "vision"; fi

E vision -m echo -q "Summarize" "$tmp/minutes.md"
if [ $rc -eq 0 ] && out_has '^\[file: minutes.md\]$' && out_has '^The launch moves to May.$'; then
    pass "vision sends the document as labelled text after the question"
else fail "vision -m echo"; fi

E vision "$tmp/missing.jpg"
if [ $rc -eq 1 ] && err_lines 1 && err_has "^vision: io: .*missing.jpg: cannot open the file" &&
   out_empty; then
    pass "vision with a missing file exits 1 with one line naming it"
else fail "vision missing file"; fi

E vision
if [ $rc -eq 2 ] && err_has '^usage: vision '; then
    pass "vision without a file exits 2 with the usage line"
else fail "vision without a file"; fi

# ---------------------------------------------------------------------
# structured
# ---------------------------------------------------------------------

E structured -m scientist
if [ $rc -eq 0 ] && [ "$(sed -n 1p "$tmp/out")" = '{"name":"Marie Curie","born":1867,"field":"physics"}' ] &&
   [ "$(sed -n 2p "$tmp/out")" = "Marie Curie, born 1867" ] && err_has '^\[3 attempts\]$'; then
    pass "structured asks again until the reply matches, and reads its fields"
else fail "structured"; fi

E structured -m stubborn
if [ $rc -eq 1 ] && err_has '^structured: mock: protocol: no reply matched the JSON Schema in 3 attempts' &&
   err_has '^structured: the last reply was: {"name": "Curie"}$' && out_empty; then
    pass "structured fails with AC_ESCHEMA and shows the last reply and its errors"
else fail "structured AC_ESCHEMA"; fi

# ---------------------------------------------------------------------
# tool_loop
# ---------------------------------------------------------------------

E tool_loop -m toolloop
if [ $rc -eq 0 ] && out_is "$LOOP_ANSWER" &&
   [ "$(grep -c '^\[round [0-9]\]$' "$tmp/err")" -eq 3 ] &&
   [ "$(sed -n 1p "$tmp/err")" = "[round 1]" ] &&
   [ "$(sed -n 4p "$tmp/err")" = "[round 2]" ] &&
   [ "$(sed -n 8p "$tmp/err")" = "[round 3]" ] && err_lines 8 &&
   err_has '^\[tool\] get_weather -> {"celsius":21,"sky":"clear"}$' &&
   err_has '^\[tool\] get_weather -> {"celsius":12,"sky":"rain"}$' &&
   err_has '^\[tool\] to_fahrenheit -> {"fahrenheit":69.8}$' &&
   err_has '^\[tool\] to_fahrenheit -> {"fahrenheit":53.6}$' &&
   err_has '^\[tool error\] get_weather -> the arguments do not match .*\[keyword required\].*\[keyword additionalProperties\]'; then
    pass "tool_loop runs three rounds, two and three calls at once, a schema error sent back"
else fail "tool_loop"; fi

E tool_loop -m toolforever
if [ $rc -eq 1 ] && out_empty &&
   [ "$(grep -c '^\[tool error\] get_weather -> no weather station in that city$' "$tmp/err")" -eq 4 ] &&
   err_has '^tool_loop: mock: request: the model still called tools in round 5'; then
    pass "tool_loop stops at its round limit with one line, exit 1"
else fail "tool_loop -m toolforever"; fi

# ---------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------

E errors -m unauthorized
if [ $rc -eq 1 ] && err_lines 1 &&
   err_has '^errors: ac_generate: mock: http: .*invalid key.*AC_EHTTP.*HTTP 401.*API key' &&
   out_empty && no_secret; then
    pass "errors reports an HTTP 401 on one line with exit 1, and no key"
else fail "errors -m unauthorized"; fi

E errors -p no-such-provider
if [ $rc -eq 3 ] && err_lines 1 && err_has '^errors: ac_llm_create: .*no-such-provider'; then
    pass "errors exits 3 for an unknown provider"
else fail "errors -p unknown"; fi

E errors
if [ $rc -eq 0 ] && out_is "$REPLY"; then
    pass "errors prints the reply when nothing fails"
else fail "errors, success"; fi

# ---------------------------------------------------------------------
# embed
# ---------------------------------------------------------------------

# The mock's vectors are derived from the text: the same text scores 1.
E embed "find this" "something else" "find this" "a third text"
if [ $rc -eq 0 ] && out_lines 3 && [ "$(head -n 1 "$tmp/out")" = "1.000  find this" ] &&
   [ "$(grep -c '^-\{0,1\}[01]\.[0-9][0-9][0-9]  ' "$tmp/out")" -eq 3 ] &&
   err_has '^\[mock/default: 4 vectors of 384 values, 1 request, 7 tokens\]$'; then
    pass "embed ranks the documents by cosine similarity, the same text first"
else fail "embed"; fi

E embed
if [ $rc -eq 0 ] && out_lines 4; then
    pass "embed ranks its built-in documents"
else fail "embed, built-in documents"; fi

E embed -m unauthorized
if [ $rc -eq 1 ] && err_lines 1 && err_has '^embed: mock: http: HTTP 401' && out_empty &&
   no_secret; then
    pass "embed reports a server's refusal on one line, exit 1"
else fail "embed -m unauthorized"; fi

# ---------------------------------------------------------------------
# host mode: the application's loop drives the core
# ---------------------------------------------------------------------

# 100 streams at once: every tenth cancelled after its first text, every
# tenth sent to the 20 s model with a 300 ms total timeout.
for loop in loop_poll loop_uv loop_event loop_glib; do
    if [ ! -x "$EX/$loop" ]; then
        echo "SKIP: $loop (its event loop library was not found by configure)"
        continue
    fi
    E $loop -w slow -t 300
    if [ $rc -eq 0 ] &&
       out_has '^100 requests: 80 ok, 10 cancelled, 10 timed out, 0 failed$' &&
       [ "$(grep -c "^[0-9]*: ok $REPLY\$" "$tmp/out")" -eq 80 ] &&
       [ "$(grep -c '^[0-9]*3: cancelled after [1-9][0-9]* bytes$' "$tmp/out")" -eq 10 ] &&
       [ "$(grep -c '^[0-9]*5: timed out$' "$tmp/out")" -eq 10 ]; then
        pass "$loop drives 100 streams from its loop, with cancels and timeouts"
    else fail "$loop"; fi
done

mockd_summary
