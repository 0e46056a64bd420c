#!/bin/sh
# test_cli.sh -- the acore program as a user runs it (make check).
#
# Starts acore-mockd (the project's mock LLM server) on a free loopback
# port with a script of scenarios, writes a temporary config whose
# plugin_path is this build tree's openai plugin, and checks what a user
# sees: the streamed text, -o json, tool calls, -v, errors as one line with
# the documented exit status (1 request, 2 usage, 3 config), Ctrl-C (130),
# piped input, commands and "did you mean", -o jsonl, config check on each
# kind of mistake, conversations kept for -c and --session, `acore embed`,
# and demo mode (acore-mockd as a child process).  Batch and chat have
# their own tests (test_batch.sh, test_chat.sh).  Nothing talks to
# anything but 127.0.0.1.  The steps it
# shares with test_examples.sh (the server, the config, running and
# checking a program) are in mockd.sh.
#
# Run by `make check` from the top build directory; top_builddir may also
# be given in the environment.  Exit status: 0 all passed, 1 a check
# failed, 99 (automake's "hard error") the test could not run at all.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
ME=test_cli
. "$(dirname "$0")/mockd.sh"
ACORE="$top_builddir/cli/acore"

[ -x "$ACORE" ] || hard_error "$ACORE is not built"
mockd_begin acore-test

# ---------------------------------------------------------------------
# The mock server and the config
# ---------------------------------------------------------------------

SECRET="sk-test-NEVER-PRINT-4242"
cat >"$tmp/script.conf" <<'EOF'
# Scenarios are chosen by the request's model.
reply = "Hello from the test mock.";
chunks = 5;
usage = [7, 5];
scenarios = (
  { model = "echo"; echo = true; },
  { model = "tools"; reply = "";
    tool_calls = ( { id = "call_1"; name = "get_weather";
                     arguments = "{\"city\": \"Paris\"}"; } ); },
  { model = "unauthorized"; status = 401; error_message = "invalid key";
    error_type = "invalid_request_error"; },
  { model = "midstream"; stream_error = "the model fell over"; },
  { model = "slow"; reply_len = 20000; chunks = 1000; delay_ms = 20; },
  { model = "person"; steps = ( { reply = "Sure! {\"name\": \"Ada\"}"; },
                              { reply = "```json\n{\"name\": \"Ada\", \"age\": 36}\n```"; } ); },
  { model = "tooltext"; chunks = 6; reply = "Let me look. <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>"; },
  { model = "wait"; first_byte_delay_ms = 400; },
  { model = "bare"; reply = "{\"name\": \"get_time\", \"arguments\": {\"city\": \"Oslo\"}}"; }
);
EOF

mockd_start
mockd_config

A() { run 20 "$ACORE" -C "$CONF" "$@"; }

# ---------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------

A "Say hello"
if [ $rc -eq 0 ] && out_is "Hello from the test mock." && err_empty; then
    pass "text reply streamed to stdout, ending in a newline"
else fail "text reply"; fi
[ "$(tail -c 1 "$tmp/out" | od -An -c | tr -d ' ')" = '\n' ] &&
    pass "output ends with a newline" || fail "output ends with a newline"

A -m echo Say hello there
if [ $rc -eq 0 ] && out_has "Say hello there"; then
    pass "operands are joined into one prompt"
else fail "operands joined"; fi

printf 'from standard input\n' >"$tmp/stdin"
RUN_STDIN="$tmp/stdin" A -m echo -
RUN_STDIN=/dev/null
if [ $rc -eq 0 ] && out_has "from standard input"; then
    pass "prompt - reads standard input"
else fail "prompt from stdin"; fi

A --no-stream "Say hello"
if [ $rc -eq 0 ] && out_is "Hello from the test mock." && err_empty; then
    pass "--no-stream prints the whole reply"
else fail "--no-stream"; fi

A -s "Be terse." --max-tokens 50 --temperature 0.5 --timeout 10000 "Say hello"
if [ $rc -eq 0 ] && out_is "Hello from the test mock."; then
    pass "-s, --max-tokens, --temperature, --timeout are accepted"
else fail "generation options"; fi

A -o json "Say hello"
if [ $rc -eq 0 ] && out_lines 1 &&
   grep -q '^{.*}$' "$tmp/out" &&
   out_has '"content" *: *"Hello from the test mock."' &&
   out_has '"finish_reason" *: *"stop"' &&
   out_has '"input_tokens" *: *7' && out_has '"output_tokens" *: *5' &&
   out_has '"provider" *: *"mock"' && out_has '"model" *: *"' &&
   out_has '"tool_calls" *: *\[ *\]'; then
    pass "-o json prints one JSON object with content, usage, provider, model"
else fail "-o json"; fi

A -o json --no-stream "Say hello"
if [ $rc -eq 0 ] && out_has '"content" *: *"Hello from the test mock."'; then
    pass "-o json --no-stream"
else fail "-o json --no-stream"; fi

A -m tools "What is the weather in Paris?"
if [ $rc -eq 0 ] && err_has '^\[tool call\] get_weather({"city": *"Paris"})$'; then
    pass "text mode prints tool calls on stderr"
else fail "tool call in text mode"; fi

A -m tools -o json "What is the weather in Paris?"
if [ $rc -eq 0 ] && out_has '"name" *: *"get_weather"' &&
   out_has '"arguments" *: *{ *"city" *: *"Paris" *}' &&
   out_has '"id" *: *"call_1"' && out_has '"finish_reason" *: *"tool_calls"' &&
   err_empty; then
    pass "-o json carries tool calls with arguments as an object"
else fail "tool call in -o json"; fi

A -v "Say hello"
if [ $rc -eq 0 ] && out_is "Hello from the test mock." &&
   err_has '^\[usage\] input_tokens=7 output_tokens=5 finish_reason=stop provider=mock' &&
   err_has "config: $CONF"; then
    pass "-v prints the config used and a usage line on stderr"
else fail "-v"; fi

A plugins
if [ $rc -eq 0 ] && out_has "$CONF" && out_has "openai" && out_has "provider mock"; then
    pass "plugins prints the report"
else fail "plugins"; fi

# A plugin folder with plugins that must be refused (tests/plugins):
# each named with its reason, the good one loaded.
printf 'abstractcore = { plugin_path = [ "%s/tests/plugins/.libs", "%s" ]; };\n' \
    "$top_builddir" "$PLUGDIR" >"$tmp/refused.conf"
A -C "$tmp/refused.conf" plugins
if [ $rc -eq 0 ] && out_has 'badabi\.so: ABI major version' &&
   out_has 'noentry\.so: no ac_provider_entry' && out_has 'loaded openai'; then
    pass "plugins names each refused plugin and why"
else fail "plugins with refused plugins"; fi

# ---------------------------------------------------------------------
# config check
# ---------------------------------------------------------------------

A config check
if [ $rc -eq 0 ] && out_is "no problems found" && err_empty; then
    pass "config check: a clean file"
else fail "config check: a clean file"; fi

cp "$CONF" "$tmp/typo.conf"
printf 'abstractcor = { };\n' >>"$tmp/typo.conf"
run 20 "$ACORE" -C "$tmp/typo.conf" config check
if [ $rc -eq 3 ] && out_lines 1 &&
   out_has "^$tmp/typo.conf:[0-9]*: unknown setting 'abstractcor' at the top level (did you mean abstractcore?)\$"; then
    pass "config check: a typo, file, line and the nearest key; exit 3"
else fail "config check: a typo"; fi
run 20 "$ACORE" -C "$tmp/typo.conf" "Say hello"
if [ $rc -eq 3 ] && err_has "did you mean abstractcore?"; then
    pass "the same file fails to open with the same message"
else fail "a typo fails the open"; fi

A models
if [ $rc -eq 0 ] && [ -s "$tmp/out" ]; then
    pass "models lists the provider's models"
else fail "models"; fi

A -o json models
if [ $rc -eq 0 ] && grep -q '^\[.*\]$' "$tmp/out"; then
    pass "models -o json prints a JSON array"
else fail "models -o json"; fi

# ---------------------------------------------------------------------
# Usage errors: exit 2, one line on stderr, nothing on stdout
# ---------------------------------------------------------------------

usage_case() {
    what=$1
    shift
    A "$@"
    if [ $rc -eq 2 ] && err_lines 1 && err_has '^acore: ' && out_empty; then
        pass "usage error exits 2 with one line: $what"
    else fail "usage error: $what"; fi
}
usage_case "no prompt"
usage_case "unknown option" --no-such-option hi
usage_case "unknown short option" -x hi
usage_case "missing argument" hi -m
usage_case "non-numeric --max-tokens" --max-tokens abc hi
usage_case "--max-tokens 0" --max-tokens 0 hi
usage_case "--max-tokens too large" --max-tokens 99999999999999999999 hi
usage_case "--temperature out of range" --temperature 2.5 hi
usage_case "--temperature not a number" --temperature warm hi
usage_case "--timeout negative" --timeout -1 hi
usage_case "bad --output" -o xml hi
usage_case "models with an argument" models extra
usage_case "empty prompt" ""
printf '\n' >"$tmp/stdin"
RUN_STDIN="$tmp/stdin" usage_case "empty prompt on stdin" -
RUN_STDIN=/dev/null

run 10 "$ACORE" --help
if [ $rc -eq 0 ] && out_has '^Usage: acore' && err_empty; then
    pass "--help exits 0"
else fail "--help"; fi

run 10 "$ACORE" --version
if [ $rc -eq 0 ] && out_has '^acore [0-9]'; then
    pass "--version exits 0"
else fail "--version"; fi

# ---------------------------------------------------------------------
# Configuration and request errors
# ---------------------------------------------------------------------

A -p no-such-provider hi
if [ $rc -eq 3 ] && err_lines 1 && err_has "^acore: .*no-such-provider" && out_empty; then
    pass "an unknown provider exits 3 with one line"
else fail "unknown provider"; fi

run 10 "$ACORE" -C "$tmp/missing.conf" hi
if [ $rc -eq 3 ] && err_lines 1 && err_has "missing.conf"; then
    pass "a missing -c file exits 3"
else fail "missing config file"; fi

printf 'abstractcore = {\n  default_provider = ;\n};\n' >"$tmp/broken.conf"
run 10 "$ACORE" -C "$tmp/broken.conf" hi
if [ $rc -eq 3 ] && err_lines 1 && err_has "broken.conf:2"; then
    pass "a config syntax error exits 3 naming file and line"
else fail "config syntax error"; fi

printf 'abstractcore = { plugin_path = [ "%s" ]; };\n' "$PLUGDIR" >"$tmp/nodefault.conf"
run 10 "$ACORE" -C "$tmp/nodefault.conf" hi
if [ $rc -eq 3 ] && err_lines 1 && err_has "default_provider"; then
    pass "no provider chosen exits 3 and says how to choose one"
else fail "no default provider"; fi

A -m unauthorized -v hi
if [ $rc -eq 1 ] && err_has '^acore: mock: http: .*401.*invalid key' &&
   no_secret; then
    pass "HTTP 401 exits 1 with provider, stage and message, and no key"
else fail "HTTP 401"; fi

A -m midstream hi
if [ $rc -eq 1 ] && err_lines 1 && err_has '^acore: mock: .*fell over' &&
   out_has "Hello from the test mock."; then
    pass "an error inside the stream exits 1 after the text that arrived"
else fail "mid-stream error"; fi

A -m slow --timeout 300 hi
if [ $rc -eq 1 ] && err_lines 1 && err_has '^acore: mock: timeout: '; then
    pass "--timeout ends a slow reply with exit 1"
else fail "--timeout"; fi

# ---------------------------------------------------------------------
# -a FILE: attachments
# ---------------------------------------------------------------------

printf '# Notes\nthe meeting is at noon\n' >"$tmp/notes.md"
printf 'a,b\n1,2\n' >"$tmp/table.csv"
# A 1x1 PNG.
echo 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' |
    base64 -d >"$tmp/pixel.png"
A -m echo -a "$tmp/notes.md" --attach "$tmp/table.csv" -a "$tmp/pixel.png" Summarize
if [ $rc -eq 0 ] && err_empty && out_has "^Summarize\$" && out_has "^\[file: notes.md\]\$" &&
   out_has "the meeting is at noon" && out_has "^\[file: table.csv\]\$"; then
    pass "-a: documents follow the prompt as labelled text, with an image"
else fail "-a documents and an image"; fi

A -a "$tmp/missing.png" hi
if [ $rc -eq 1 ] && err_lines 1 && out_empty && err_has "missing.png: cannot open the file"; then
    pass "-a: a missing file exits 1 naming it"
else fail "-a missing file"; fi

printf '\037\213\010\000\000\000\000\000\000\003\003\000\000\000\000\000\000\000\000\000' >"$tmp/data.gz"
A -a "$tmp/data.gz" hi
if [ $rc -eq 1 ] && err_lines 1 && err_has "data.gz: the content is application/gzip, not"; then
    pass "-a: an unsupported type exits 1 naming the file and the type"
else fail "-a unsupported type"; fi

A -a "" hi
if [ $rc -eq 2 ] && err_has "attach: empty file name"; then
    pass "-a '': a usage error"
else fail "-a empty"; fi

# ---------------------------------------------------------------------
# --schema, --tool, --tool-mode
# ---------------------------------------------------------------------

cat >"$tmp/person.json" <<'EOF'
{"type": "object", "required": ["name", "age"],
 "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}}
EOF
A --schema "$tmp/person.json" -m person -v "Who?"
if [ $rc -eq 0 ] && out_is '{"name":"Ada","age":36}' &&
   err_has '^\[retry\] attempt 1 of 3 did not match the JSON Schema: .*age'; then
    pass "--schema prints the validated document after asking again"
else fail "--schema"; fi

A --schema "$tmp/person.json" -m person -o json "Who?"
if [ $rc -eq 0 ] && out_lines 1 && out_has '"content":{"name":"Ada","age":36}' &&
   out_has '"rounds":2'; then
    pass "--schema -o json: the document is the content"
else fail "--schema -o json"; fi

printf '{"type": "object", "$defs": {}}' >"$tmp/later.json"
A --schema "$tmp/later.json" "Who?"
if [ $rc -eq 2 ] && err_lines 1 && err_has 'later.json: .*\$defs'; then
    pass "a schema with a later draft's keyword exits 2 naming it"
else fail "--schema with a later keyword"; fi

A --schema "$tmp/none.json" "Who?"
if [ $rc -eq 2 ] && err_lines 1 && err_has "none.json"; then
    pass "a missing --schema file exits 2"
else fail "--schema missing file"; fi

cat >"$tmp/weather.json" <<'EOF'
{"name": "get_weather", "description": "The weather in a city.",
 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
EOF
A --tool "$tmp/weather.json" --tool-mode prompted -m tooltext "Weather?"
if [ $rc -eq 0 ] && out_is "Let me look." &&
   err_has '^\[tool call\] get_weather({"city":"Paris"})$'; then
    pass "--tool --tool-mode prompted: the call is read out of the text"
else fail "--tool prompted"; fi

A --tool "$tmp/weather.json" -m tools -o json "Weather?"
if [ $rc -eq 0 ] && out_has '"tool_calls":\[{"id":"call_1","name":"get_weather"'; then
    pass "--tool -o json shows a native call"
else fail "--tool -o json"; fi

A --tool "$tmp/weather.json" --tool-mode prompted -m tooltext -o json "Weather?"
if [ $rc -eq 0 ] && out_lines 1 && out_has '"content":"Let me look."' &&
   out_has '"tool_calls":\[{"id":"[^"][^"]*","name":"get_weather","arguments":{"city":"Paris"}' &&
   out_has '"finish_reason":"tool_calls"'; then
    pass "--tool -o json shows a call parsed out of the text"
else fail "--tool prompted -o json"; fi

# A reply that is a bare JSON object is a call only when it names an
# offered tool: with the second --tool file, get_time is one.
cat >"$tmp/time.json" <<'JSON'
{"name": "get_time", "description": "The time in a city.",
 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
JSON
A --tool "$tmp/weather.json" --tool-mode prompted -m bare -o json "Time?"
if [ $rc -eq 0 ] && out_has '"tool_calls":\[\]' && out_has 'get_time'; then
    pass "a bare JSON reply naming a tool not offered stays text"
else fail "--tool bare JSON, tool not offered"; fi
A --tool "$tmp/weather.json" --tool "$tmp/time.json" --tool-mode prompted -m bare -o json "Time?"
if [ $rc -eq 0 ] && out_has '"content":""' &&
   out_has '"tool_calls":\[{"id":"[^"][^"]*","name":"get_time","arguments":{"city":"Oslo"}'; then
    pass "--tool twice offers both tools"
else fail "--tool twice"; fi

printf '{"description": "no name"}' >"$tmp/noname.json"
A --tool "$tmp/noname.json" hi
if [ $rc -eq 2 ] && err_lines 1 && err_has 'noname.json: needs "name"'; then
    pass "a tool file without a name exits 2"
else fail "--tool without a name"; fi

A --tool-mode sometimes hi
if [ $rc -eq 2 ] && err_has "tool-mode"; then
    pass "a bad --tool-mode exits 2"
else fail "--tool-mode"; fi

A --trace "$tmp/trace.jsonl" "Say hello"
if [ $rc -eq 0 ] && [ "$(grep -c '"type":"request"' "$tmp/trace.jsonl")" -eq 1 ] &&
   grep -q '"type":"attempt".*"status":"AC_OK","http_status":200' "$tmp/trace.jsonl" &&
   ! grep -q -- "$SECRET" "$tmp/trace.jsonl" && ! grep -q '"reply"' "$tmp/trace.jsonl"; then
    pass "--trace appends a JSON line per try and per request, without text or key"
else fail "--trace"; fi

# Ctrl-C: SIGINT while streaming cancels, keeps what arrived, exits 130.
# The old output goes first, so text in the file means this run started.
rm -f "$tmp/out" "$tmp/err"
"$ACORE" -C "$CONF" -m slow hi </dev/null >"$tmp/out" 2>"$tmp/err" &
acpid=$!
i=0
while [ $i -lt 100 ] && [ ! -s "$tmp/out" ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -INT "$acpid" 2>/dev/null
i=0
while [ $i -lt 50 ] && kill -0 "$acpid" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$acpid" 2>/dev/null; then
    kill -9 "$acpid" 2>/dev/null
    echo "(killed: Ctrl-C did not end it within 5 s)" >>"$tmp/err"
fi
wait "$acpid"
rc=$?
size=$(wc -c <"$tmp/out" | tr -d ' ')
if [ $rc -eq 130 ] && [ "$size" -gt 1 ] && [ "$size" -lt 20000 ] &&
   [ "$(tail -c 1 "$tmp/out" | od -An -c | tr -d ' ')" = '\n' ]; then
    pass "Ctrl-C cancels the stream, keeps the partial text, exits 130"
else fail "Ctrl-C"; fi

# ---------------------------------------------------------------------
# acore embed: one JSON line per text, in order
# ---------------------------------------------------------------------

E() { run 20 "$ACORE" embed -C "$CONF" "$@"; }
# The numbers of line N of the output, one per line.
values() { sed -n "${1}p" "$tmp/out" | sed 's/.*"embedding":\[\([^]]*\)\].*/\1/' | tr ',' '\n'; }

E "a text" "another text" "a text"
if [ $rc -eq 0 ] && out_lines 3 && err_empty &&
   out_has '^{"index":0,"embedding":\[-\{0,1\}[0-9][^]]*\],"model":"default"}$' &&
   out_has '^{"index":2,' && [ "$(values 1 | wc -l | tr -d ' ')" -eq 384 ] &&
   [ "$(values 1)" = "$(values 3)" ] && [ "$(values 1)" != "$(values 2)" ]; then
    pass "embed: a JSON line per text, in order, the same text the same vector"
else fail "embed"; fi

printf 'first line\n\nsecond line\r\n' >"$tmp/stdin"
RUN_STDIN="$tmp/stdin" E --dimensions 8
RUN_STDIN=/dev/null
if [ $rc -eq 0 ] && out_lines 2 && out_has '^{"index":1,' &&
   [ "$(values 2 | wc -l | tr -d ' ')" -eq 8 ]; then
    pass "embed: texts from standard input, one a line; --dimensions"
else fail "embed from stdin, --dimensions"; fi

# (The script's usage = [7, 5] stands for the mock's token count.)
E -v hello
if [ $rc -eq 0 ] && out_lines 1 &&
   err_has '^acore: 1 vector of 384 values from mock, model default, 1 request, input tokens 7$'; then
    pass "embed -v: a summary line on stderr"
else fail "embed -v"; fi

E -m unauthorized hello
if [ $rc -eq 1 ] && out_empty && err_lines 1 && err_has 'HTTP 401' && no_secret; then
    pass "embed: a server's refusal, one line, exit 1, no key"
else fail "embed: server error"; fi

embed_usage() {
    what=$1
    want=$2
    shift 2
    E "$@"
    if [ $rc -eq 2 ] && err_lines 1 && err_has "^acore: $want" && out_empty; then
        pass "embed: usage error exits 2 with one line: $what"
    else fail "embed usage error: $what"; fi
}
embed_usage "--dimensions 0" "--dimensions: 0 is out of range" --dimensions 0 hi
embed_usage "unknown option" "unrecognized option '--nope'" --nope hi
embed_usage "an empty text" "embed: text 0 is empty" ""
RUN_STDIN=/dev/null embed_usage "nothing on stdin" "embed: no text on standard input" -

# ---------------------------------------------------------------------
# Standard input and the words
# ---------------------------------------------------------------------

printf 'from a pipe\n' >"$tmp/stdin"
RUN_STDIN="$tmp/stdin" A -m echo
if [ $rc -eq 0 ] && out_is "from a pipe" && err_empty; then
    pass "piped input without words is the prompt"
else fail "piped input alone"; fi

printf 'the document\nits second line\n' >"$tmp/stdin"
RUN_STDIN="$tmp/stdin" A -m echo summarize:
if [ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "$(printf 'summarize:\n\nthe document\nits second line')" ]; then
    pass "words, a blank line, then piped input"
else fail "words and piped input"; fi

printf 'only this\n' >"$tmp/stdin"
RUN_STDIN="$tmp/stdin" A -m echo -
if [ $rc -eq 0 ] && out_is "only this"; then
    pass "- alone is standard input only"
else fail "- alone"; fi
RUN_STDIN=/dev/null

A -m echo -- models
if [ $rc -eq 0 ] && out_is "models"; then
    pass "-- sends a command's name as the prompt"
else fail "-- models"; fi

A -m echo -- help me
if [ $rc -eq 0 ] && out_is "help me"; then
    pass "-- sends 'help me'"
else fail "-- help me"; fi

A -m echo -s -- "not the end of the options"
if [ $rc -eq 0 ] && out_is "not the end of the options"; then
    pass "-s -- : the -- is the system prompt, not the end of the options"
else fail "-s --"; fi

A -m echo model the weather tomorrow
if [ $rc -eq 0 ] && out_is "model the weather tomorrow"; then
    pass "a longer text that starts near a command's name is a prompt"
else fail "long text near a command"; fi

A -m echo hello
if [ $rc -eq 0 ] && out_is "hello"; then
    pass "'hello' is a prompt, not a typo of help"
else fail "hello"; fi

# ---------------------------------------------------------------------
# Commands and "did you mean"
# ---------------------------------------------------------------------

typo_case() {
    word=$1
    want=$2
    shift 2
    A "$word" "$@"
    if [ $rc -eq 2 ] && out_empty && err_lines 1 &&
       err_has "^acore: unknown command '$word' (did you mean $want?); to send it as a prompt: acore -- $word"; then
        pass "'$word' is refused before anything is sent: did you mean $want"
    else fail "typo $word"; fi
}
requests_before=$(grep -c ' -> ' "$tmp/mockd.err")
typo_case model models
typo_case chta chat
typo_case halp help
typo_case plugin plugins
typo_case confg config check
typo_case bach batch prompts.txt
[ "$(grep -c ' -> ' "$tmp/mockd.err")" -eq "$requests_before" ] &&
    pass "no typo reached the server" || fail "typos reached the server"

A help
if [ $rc -eq 0 ] && out_has '^Usage: acore' && out_has 'acore chat ' && out_has 'acore batch ' &&
   err_empty; then
    pass "acore help prints the help with every command"
else fail "acore help"; fi

A help commands
if [ $rc -eq 0 ] && [ "$(tr '\n' ' ' <"$tmp/out")" = "chat batch embed models plugins config serve help " ]; then
    pass "acore help commands lists the names (for completion)"
else fail "help commands"; fi

A help batch
if [ $rc -eq 0 ] && out_has '^Usage: acore \[OPTIONS\] batch'; then
    pass "acore help batch"
else fail "help batch"; fi

A help bach
if [ $rc -eq 2 ] && err_has "did you mean batch?"; then
    pass "acore help with a typo"
else fail "help typo"; fi

A config
if [ $rc -eq 2 ] && err_lines 1 && err_has "config: missing argument"; then
    pass "config without check: a usage error"
else fail "config alone"; fi

A config chek
if [ $rc -eq 2 ] && err_has "did you mean check?"; then
    pass "config chek: did you mean check"
else fail "config chek"; fi

A plugins extra
if [ $rc -eq 2 ] && err_has "plugins: unexpected argument 'extra'"; then
    pass "plugins takes no argument"
else fail "plugins extra"; fi

printf 'Say hello\n/exit\n' >"$tmp/stdin"
RUN_STDIN="$tmp/stdin" A chat
RUN_STDIN=/dev/null
if [ $rc -eq 0 ] && out_is "Hello from the test mock." && err_empty; then
    pass "chat reads lines from a pipe: no prompt, no banner"
else fail "chat from a pipe"; fi

# ---------------------------------------------------------------------
# -o jsonl: one object per event, then the response (acore(1))
# ---------------------------------------------------------------------

A -m echo -o jsonl "Say hi there"
texts=$(sed -n 's/^{"type":"text","text":"\(.*\)"}$/\1/p' "$tmp/out" | tr -d '\n')
if [ $rc -eq 0 ] && err_empty &&
   ! grep -v '^{"type":"\(text\|usage\|finish\|response\)",.*}$' "$tmp/out" | grep -q . &&
   [ "$texts" = "Say hi there" ] &&
   [ "$(grep -c '^{"type":"usage","input_tokens":7,"output_tokens":5}$' "$tmp/out")" -eq 1 ] &&
   grep -q '^{"type":"finish","finish_reason":"stop","raw_finish_reason":"stop"}$' "$tmp/out" &&
   tail -n 1 "$tmp/out" | grep -q '^{"type":"response","response":{"content":"Say hi there",.*"provider":"mock","model":"echo",.*}}$' &&
   [ "$(grep -c '"type":"response"' "$tmp/out")" -eq 1 ]; then
    pass "-o jsonl: text events, usage, finish, then the response"
else fail "-o jsonl"; fi

A -m tools -o jsonl "Weather?"
if [ $rc -eq 0 ] &&
   grep -q '^{"type":"tool_call_start","index":0,"id":"call_1","name":"get_weather"}$' "$tmp/out" &&
   grep -q '^{"type":"tool_call_delta","index":0,"arguments":"' "$tmp/out" &&
   grep -q '^{"type":"tool_call_end","index":0,"id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}$' "$tmp/out" &&
   tail -n 1 "$tmp/out" | grep -q '"tool_calls":\[{"id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}\]' &&
   err_empty; then
    pass "-o jsonl: tool call start, deltas, end with the arguments as an object"
else fail "-o jsonl tool calls"; fi

A -m midstream -o jsonl hi
if [ $rc -eq 1 ] &&
   grep -q '^{"type":"error","error":{"code":"AC_EPROTOCOL","stage":"protocol","provider":"mock","message":".*fell over.*"}}$' "$tmp/out" &&
   tail -n 1 "$tmp/out" | grep -q '^{"type":"response","response":{"content":"Hello from the test mock."' &&
   err_lines 1 && err_has 'fell over'; then
    pass "-o jsonl: a failure is an error event, then the partial response; exit 1"
else fail "-o jsonl error"; fi

A -m wait "Say hello"
if [ $rc -eq 0 ] && out_is "Hello from the test mock." && err_empty; then
    pass "no spinner when standard error is not a terminal"
else fail "spinner on a pipe"; fi

# ---------------------------------------------------------------------
# config check: one file with each kind of mistake
# ---------------------------------------------------------------------

cat >"$tmp/mistakes.conf" <<CONF
abstractcore = {
  plugin_path = [ "$PLUGDIR", "$tmp/no-such-folder" ];
  default_provider = "mock";
};
providers = (
  { name = "mock"; plugin = "openai"; base_url = "$url/v1";
    api_key_env = "ACORE_TEST_UNSET_KEY"; max_retries = "two";
    timout_ms = 5; }
);
CONF
unset ACORE_TEST_UNSET_KEY
run 20 "$ACORE" -C "$tmp/mistakes.conf" config check
f="$tmp/mistakes.conf"
if [ $rc -eq 3 ] && out_lines 4 && err_empty &&
   out_has "^$f:2: plugin_path folder '$tmp/no-such-folder' cannot be read: No such file or directory\$" &&
   out_has "^$f:7: provider 'mock': 'max_retries' must be an integer" &&
   out_has "^$f:8: provider 'mock': unknown setting 'timout_ms'.*(did you mean timeout_ms?)\$" &&
   out_has "^$f:7: provider 'mock': environment variable ACORE_TEST_UNSET_KEY (api_key_env) is not set\$"; then
    pass "config check: unknown key, wrong type, unset variable, unreadable plugin folder; exit 3"
else fail "config check: each kind of mistake"; fi

run 20 env XDG_CONFIG_HOME="$tmp/empty-xdg" "$ACORE" config check
if [ $rc -eq 0 ] && out_lines 1 &&
   out_has "^no configuration file (looked for $tmp/empty-xdg/abstractcore/abstractcore.conf); nothing to check\$"; then
    pass "config check without a file says where it looked"
else fail "config check without a file"; fi

# ---------------------------------------------------------------------
# Conversations: -c continues the last, --session NAME a named one
# ---------------------------------------------------------------------

data="$HOME/.local/share/abstractcore"
rm -rf "$data"
A -c hi
if [ $rc -eq 2 ] && err_lines 1 && err_has "no conversation to continue (none kept in $data/last-session.json yet)"; then
    pass "-c without a conversation yet: exit 2, naming the file"
else fail "-c with nothing"; fi

A -m echo "first question"
A -m echo -c "second question"
if [ $rc -eq 0 ] && out_is "second question" &&
   [ "$(grep -c '"role": *"user"' "$data/last-session.json")" -eq 2 ] &&
   grep -q '"content": *"first question"' "$data/last-session.json" &&
   [ "$(stat -c %a "$data")" = 700 ] && [ "$(stat -c %a "$data/last-session.json")" = 600 ]; then
    pass "-c continues the last conversation (kept 0600 in a 0700 folder)"
else fail "-c"; fi

A -m echo --continue -o json "third question"
if [ $rc -eq 0 ] && [ "$(grep -c '"role": *"user"' "$data/last-session.json")" -eq 3 ]; then
    pass "--continue, and -o json keeps the conversation too"
else fail "--continue"; fi

A -m echo -s "Be brief." --session work "alpha"
A -m echo --session work "beta"
if [ $rc -eq 0 ] && [ "$(grep -c '"role": *"user"' "$data/sessions/work.json")" -eq 2 ] &&
   grep -q '"system": *"Be brief."' "$data/sessions/work.json" &&
   grep -q '"content": *"beta"' "$data/last-session.json"; then
    pass "--session NAME keeps a named conversation (and it becomes the last)"
else fail "--session"; fi

A -m echo -s "Be very brief." --session work "gamma"
if [ $rc -eq 0 ] && [ "$(grep -c '"role": *"user"' "$data/sessions/work.json")" -eq 3 ] &&
   grep -q '"system": *"Be very brief."' "$data/sessions/work.json"; then
    pass "-s replaces the system prompt of a continued conversation"
else fail "--session -s"; fi

A -m echo --session "$tmp/own.json" "gamma"
if [ $rc -eq 0 ] && grep -q '"content": *"gamma"' "$tmp/own.json"; then
    pass "--session with a '/' is a file name"
else fail "--session FILE"; fi

run 20 env XDG_DATA_HOME="$tmp/xdgdata" "$ACORE" -C "$CONF" -m echo "delta"
if [ $rc -eq 0 ] && [ -f "$tmp/xdgdata/abstractcore/last-session.json" ]; then
    pass "\$XDG_DATA_HOME is where conversations are kept"
else fail "XDG_DATA_HOME"; fi

A -m echo -c --session x hi
if [ $rc -eq 2 ] && err_has "cannot be used together"; then
    pass "-c and --session together: a usage error"
else fail "-c --session"; fi

A -m unauthorized -c "not kept"
if [ $rc -eq 1 ] && ! grep -q 'not kept' "$data/last-session.json"; then
    pass "a failed turn is not kept"
else fail "failed turn kept"; fi

# ---------------------------------------------------------------------
# "No provider": every message says where it looked and mentions --demo
# ---------------------------------------------------------------------

run 10 "$ACORE" -C "$tmp/nodefault.conf" hi
if [ $rc -eq 3 ] && err_lines 1 && err_has "$tmp/nodefault.conf" && err_has "--demo"; then
    pass "no provider chosen: names the file and --demo"
else fail "no provider chosen: --demo"; fi

A -p no-such-provider hi
if [ $rc -eq 3 ] && err_lines 1 && err_has "the configuration file $CONF" && err_has "--demo"; then
    pass "an unknown provider: names the file and --demo"
else fail "unknown provider: --demo"; fi

run 10 env ABSTRACTCORE_PLUGIN_PATH="$PLUGDIR" "$ACORE" -p no-such-provider hi
if [ $rc -eq 3 ] && err_lines 1 &&
   err_has "no configuration file (looked for $XDG_CONFIG_HOME/abstractcore/abstractcore.conf)" &&
   err_has "--demo"; then
    pass "an unknown provider without a file: where it looked, and --demo"
else fail "unknown provider, no file"; fi

# ---------------------------------------------------------------------
# Demo mode: no config anywhere, no -p: acore-mockd as a child process
# ---------------------------------------------------------------------

if ldd "$top_builddir/cli/.libs/acore" 2>/dev/null | grep -q microhttpd; then
    fail "acore links libmicrohttpd"
else pass "acore does not link libmicrohttpd (the mock runs as its own program)"; fi

run 20 env ABSTRACTCORE_PLUGIN_PATH="$PLUGDIR" "$ACORE" -v "Say hello"
demo_url=$(sed -n 's/^acore: no backend configured; using the bundled mock server at \(http:[^ ]*\) .*/\1/p' "$tmp/err")
if [ $rc -eq 0 ] && [ -s "$tmp/out" ] && err_has "config: none" &&
   err_has '^acore: no backend configured; using the bundled mock server at http://127\.0\.0\.1:[0-9]* (see acore(1), CONFIGURATION)$'; then
    pass "demo mode starts acore-mockd and says so"
else fail "demo mode"; fi

# The server went away with acore: its port answers no more.
cat >"$tmp/gone.conf" <<CONF
abstractcore = { plugin_path = [ "$PLUGDIR" ]; default_provider = "gone"; };
providers = ( { name = "gone"; plugin = "openai"; base_url = "$demo_url/v1";
                api_key = "x"; max_retries = 0; } );
CONF
run 10 "$ACORE" -C "$tmp/gone.conf" hi
if [ -n "$demo_url" ] && [ $rc -eq 1 ] && err_has 'connect'; then
    pass "the demo server stops with acore"
else fail "demo server left running"; fi

run 20 env ABSTRACTCORE_PLUGIN_PATH="$PLUGDIR" "$ACORE" -m echo "echo this"
if [ $rc -eq 0 ] && out_is "echo this"; then
    pass "demo mode: -m echo"
else fail "demo -m echo"; fi

run 20 env ABSTRACTCORE_PLUGIN_PATH="$PLUGDIR" ABSTRACTCORE_MOCKD="$MOCKD" "$ACORE" --demo "Say hello"
if [ $rc -eq 0 ] && [ -s "$tmp/out" ] && err_has '^acore: demo mode: using the bundled mock server at http://127\.0\.0\.1:'; then
    pass "--demo, with \$ABSTRACTCORE_MOCKD naming the server"
else fail "--demo"; fi

run 20 env ABSTRACTCORE_PLUGIN_PATH="$PLUGDIR" "$ACORE" embed --demo hello
if [ $rc -eq 0 ] && out_lines 1 && out_has '"model":"demo-embedding"}$' &&
   err_has 'bundled mock server at http://127\.0\.0\.1:'; then
    pass "embed --demo uses the bundled mock server"
else fail "embed --demo"; fi

run 20 env ABSTRACTCORE_PLUGIN_PATH="$PLUGDIR" ABSTRACTCORE_MOCKD="$tmp/no-mockd" "$ACORE" "Say hello"
if [ $rc -eq 3 ] && err_lines 1 && err_has "ABSTRACTCORE_MOCKD ($tmp/no-mockd) is not an executable file"; then
    pass "demo mode without the server: exit 3, one line"
else fail "demo without acore-mockd"; fi

# ---------------------------------------------------------------------
# Shell completion (bash; zsh's file is checked for syntax)
# ---------------------------------------------------------------------

COMPLETE="$(cd "$(dirname "$0")/.." && pwd)/cli/complete"
# comp WORD...: what bash completes for the last WORD after the others.
comp() {
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _acore
             printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETE/acore" "$ACORE" "$@" 2>&1 |
        sort | tr '\n' ' '
}
if command -v bash >/dev/null 2>&1; then
    got=$(comp "")
    [ "$got" = "batch chat config embed help models plugins serve " ] &&
        pass "bash completes the commands" || { rc=0; fail "bash commands: '$got'"; }
    got=$(comp ch)
    [ "$got" = "chat " ] && pass "bash completes 'ch' to chat" || { rc=0; fail "bash ch: '$got'"; }
    got=$(comp -o j)
    [ "$got" = "json jsonl " ] && pass "bash completes -o" || { rc=0; fail "bash -o: '$got'"; }
    got=$(comp config "")
    [ "$got" = "check " ] && pass "bash completes config check" || { rc=0; fail "bash config: '$got'"; }
    got=$(comp -C "$CONF" -p "")
    [ "$got" = "mock openai " ] &&
        pass "bash completes -p with the configured providers and plugins" ||
        { rc=0; fail "bash -p: '$got'"; }
    got=$(comp --sess)
    [ "$got" = "--session " ] && pass "bash completes long options" || { rc=0; fail "bash --sess: '$got'"; }
fi
# zsh completes on a terminal only: an interactive zsh on pty_drive's,
# with _acore in its fpath and this acore first in PATH.
if command -v zsh >/dev/null 2>&1 && [ -x "$top_builddir/tests/pty_drive" ]; then
    mkdir -p "$tmp/zsh/bin"
    ln -sf "$ACORE" "$tmp/zsh/bin/acore"
    cat >"$tmp/zsh/.zshrc" <<ZRC
PS1='READY%# '
fpath=("$COMPLETE" \$fpath)
autoload -Uz compinit && compinit -u -d "$tmp/zsh/.zcompdump"
ZRC
    cat >"$tmp/zsh.pty" <<'PTY'
expect READY
type acore ch\t
expect acore chat 
type \x15acore config \t
expect acore config check 
type \x15acore -o jsonl\t
expect acore -o jsonl 
type \x15exit\r
exit 0
PTY
    TERM=dumb ZDOTDIR="$tmp/zsh" PATH="$tmp/zsh/bin:$PATH" \
        "$top_builddir/tests/pty_drive" -t 15 -o "$tmp/out" zsh -i <"$tmp/zsh.pty" \
        >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc -eq 0 ] && pass "zsh completes commands, config check and -o values" ||
        fail "zsh completion"
else
    echo "# zsh is not installed: _acore not checked"
fi

mockd_summary
