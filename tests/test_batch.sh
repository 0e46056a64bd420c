#!/bin/sh
# test_batch.sh -- `acore batch` against acore-mockd (make check).
#
# What a user of `acore batch FILE` sees: one JSON line per prompt, in
# the order of the file even when later prompts are answered first; every
# prompt in flight at once up to --concurrency (acore-mockd counts the
# requests it has in flight and says the most it had when it stops);
# JSON lines with their own provider, model and system prompt; mistakes
# in the file named by line before anything is sent; a failed line that
# does not stop the others; no progress bar when standard error is not a
# terminal.  The shared steps are in mockd.sh.
#
# Exit status: 0 all passed, 1 a check failed, 99 the test could not run.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd) || exit 99
ME=test_batch
. "$(dirname "$0")/mockd.sh"
ACORE="$top_builddir/cli/acore"

[ -x "$ACORE" ] || hard_error "$ACORE is not built"
mockd_begin acore-batch

SECRET="sk-test-NEVER-PRINT-4242"
cat >"$tmp/script.conf" <<'EOF'
reply = "Hello from the batch mock.";
chunks = 3;
usage = [3, 4];
scenarios = (
  { model = "echo"; echo = true; },
  { model = "late"; echo = true; first_byte_delay_ms = 600; },
  { model = "held"; echo = true; first_byte_delay_ms = 300; },
  { model = "unauthorized"; status = 401; error_message = "invalid key"; }
);
EOF
mockd_start
mockd_config
A() { run 30 "$ACORE" -C "$CONF" "$@"; }

# The mock's "at most N at once" line, printed when it stops, into $peak:
# the server is restarted around a run to read the peak of that run
# alone.  (Not in $(...): a subshell cannot wait for the server.)
peak_of_run() {
    kill "$mockpid" 2>/dev/null
    wait "$mockpid" 2>/dev/null
    mockpid=
    peak=$(sed -n 's/.*stopping after [0-9]* requests, at most \([0-9]*\) at once$/\1/p' "$tmp/mockd.err")
}

# ---------------------------------------------------------------------
# Order: the first prompt is the slowest, its line is still first
# ---------------------------------------------------------------------

cat >"$tmp/prompts.txt" <<'EOF'
{"prompt": "one", "model": "late", "id": "a"}
two

{"prompt": "three", "model": "echo", "id": 3}
{"prompt": "four", "model": "held"}
five
EOF
A -m echo batch "$tmp/prompts.txt"
if [ $rc -eq 0 ] && out_lines 5 && err_empty &&
   [ "$(sed -n 's/^{"line":\([0-9]*\),.*/\1/p' "$tmp/out" | tr '\n' ' ')" = "1 2 4 5 6 " ] &&
   [ "$(sed -n 's/.*"response":{"content":"\([^"]*\)".*/\1/p' "$tmp/out" | tr '\n' ' ')" = "one two three four five " ] &&
   sed -n 1p "$tmp/out" | grep -q '^{"line":1,"id":"a","ok":true,"response":{.*"model":"late"' &&
   sed -n 3p "$tmp/out" | grep -q '^{"line":4,"id":3,"ok":true,'; then
    pass "results in input order, one JSON line each, ids echoed, blank lines skipped"
else fail "batch order"; fi
# "late" (600 ms) started first and was answered last; "held" (300 ms)
# was in flight with it (the others are answered at once).
peak_of_run
if [ -n "$peak" ] && [ "$peak" -ge 2 ]; then
    pass "the prompts were in flight together (at most $peak at once)"
else fail "the prompts were not sent together (peak $peak)"; fi
mockd_start
mockd_config

# ---------------------------------------------------------------------
# Concurrency: at most N in flight, and N at once
# ---------------------------------------------------------------------

: >"$tmp/many.txt"
i=1
while [ $i -le 10 ]; do
    printf '{"prompt": "p%d", "model": "held"}\n' $i >>"$tmp/many.txt"
    i=$((i + 1))
done
A --concurrency 3 batch "$tmp/many.txt"
peak_of_run
if [ $rc -eq 0 ] && out_lines 10 && [ "$peak" = 3 ] &&
   [ "$(sed -n 's/.*"content":"\(p[0-9]*\)".*/\1/p' "$tmp/out" | tr '\n' ' ')" = "p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 " ]; then
    pass "--concurrency 3: the server saw exactly 3 at once, results in order"
else fail "--concurrency 3 (peak $peak)"; fi

mockd_start
mockd_config
A batch "$tmp/many.txt"
peak_of_run
if [ $rc -eq 0 ] && out_lines 10 && [ "$peak" = 8 ]; then
    pass "the default concurrency is 8"
else fail "default concurrency (peak $peak)"; fi

mockd_start
mockd_config
A --concurrency 1 batch "$tmp/many.txt"
peak_of_run
if [ $rc -eq 0 ] && out_lines 10 && [ "$peak" = 1 ]; then
    pass "--concurrency 1: one at a time"
else fail "--concurrency 1 (peak $peak)"; fi

mockd_start
mockd_config

# ---------------------------------------------------------------------
# Per-line provider, model, system; standard input; failures
# ---------------------------------------------------------------------

cat >"$tmp/mixed.txt" <<'EOF'
{"prompt": "default provider and model"}
{"prompt": "with a system prompt", "system": "Answer in French.", "model": "echo"}
{"prompt": "by its provider", "provider": "mock", "model": "echo"}
{"prompt": "refused", "model": "unauthorized"}
{"prompt": "nowhere", "provider": "no-such-provider"}
EOF
RUN_STDIN="$tmp/mixed.txt" A batch -
RUN_STDIN=/dev/null
if [ $rc -eq 1 ] && out_lines 5 &&
   sed -n 1p "$tmp/out" | grep -q '"ok":true,"response":{"content":"Hello from the batch mock.".*"provider":"mock","model":"default"' &&
   sed -n 2p "$tmp/out" | grep -q '"ok":true,"response":{"content":"with a system prompt"' &&
   sed -n 3p "$tmp/out" | grep -q '"ok":true,"response":{"content":"by its provider"' &&
   sed -n 4p "$tmp/out" | grep -q '^{"line":4,"ok":false,"error":{"code":"AC_EHTTP","stage":"http","provider":"mock","http_status":401,"message":".*invalid key' &&
   sed -n 5p "$tmp/out" | grep -q '^{"line":5,"ok":false,"error":{"code":"AC_ENOPROVIDER",' &&
   err_lines 1 && err_has '^acore: 2 of 5 prompts failed' && no_secret; then
    pass "per-line provider, model and system; failed lines reported in place; exit 1"
else fail "mixed lines"; fi

printf 'first\nsecond\n' >"$tmp/stdin"
RUN_STDIN="$tmp/stdin" A -m echo batch
RUN_STDIN=/dev/null
if [ $rc -eq 0 ] && out_lines 2 && out_has '"content":"second"'; then
    pass "batch without FILE reads a pipe"
else fail "batch from a pipe"; fi

A -m echo -s "Be brief." --no-stream batch "$tmp/many.txt"
if [ $rc -eq 0 ] && out_lines 10; then
    pass "-s and --no-stream apply to every line"
else fail "batch -s --no-stream"; fi

# ---------------------------------------------------------------------
# Mistakes in the file: named by line, nothing sent
# ---------------------------------------------------------------------

bad_case() {
    what=$1
    want=$2
    printf '%s\n' "fine" "$3" >"$tmp/bad.txt"
    before=$(grep -c ' -> ' "$tmp/mockd.err")
    A batch "$tmp/bad.txt"
    if [ $rc -eq 2 ] && out_empty && err_lines 1 && err_has "^acore: $tmp/bad.txt:2: $want" &&
       [ "$(grep -c ' -> ' "$tmp/mockd.err")" -eq "$before" ]; then
        pass "a bad line ($what): FILE:LINE, exit 2, nothing sent"
    else fail "bad line: $what"; fi
}
bad_case "not JSON" "not a JSON object" '{"prompt": '
bad_case "no prompt" 'no "prompt"' '{"model": "echo"}'
bad_case "a typo'd key" "unknown key 'promt' (did you mean prompt?)" '{"promt": "x"}'
bad_case "a number for a string" '"model" must be a non-empty string' '{"prompt": "x", "model": 4}'
bad_case "a NUL in a prompt" '"prompt" holds a NUL character' '{"prompt": "a\u0000rest"}'

: >"$tmp/empty.txt"
A batch "$tmp/empty.txt"
if [ $rc -eq 2 ] && err_has "no prompts"; then
    pass "an empty file: exit 2"
else fail "empty batch"; fi

A batch "$tmp/missing.txt"
if [ $rc -eq 2 ] && err_lines 1 && err_has "missing.txt: No such file"; then
    pass "a missing file: exit 2"
else fail "missing batch file"; fi

A batch a b
if [ $rc -eq 2 ] && err_has "batch: unexpected argument 'b'"; then
    pass "batch takes one FILE"
else fail "batch a b"; fi

A --concurrency 0 batch "$tmp/many.txt"
if [ $rc -eq 2 ] && err_has -- "--concurrency"; then
    pass "--concurrency 0 is refused"
else fail "--concurrency 0"; fi

# ---------------------------------------------------------------------
# Ctrl-C: what is in flight is cancelled and reported, the rest not sent
# ---------------------------------------------------------------------

: >"$tmp/slow.txt"
i=1
while [ $i -le 10 ]; do
    printf '{"prompt": "s%d", "model": "late"}\n' $i >>"$tmp/slow.txt"
    i=$((i + 1))
done
rm -f "$tmp/out" "$tmp/err"
"$ACORE" -C "$CONF" --concurrency 2 batch "$tmp/slow.txt" </dev/null >"$tmp/out" 2>"$tmp/err" &
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
kill -0 "$acpid" 2>/dev/null && kill -9 "$acpid" 2>/dev/null
wait "$acpid"
rc=$?
n=$(wc -l <"$tmp/out" | tr -d ' ')
if [ $rc -eq 130 ] && [ "$n" -ge 2 ] && [ "$n" -lt 10 ] &&
   [ "$(grep -c '"code":"AC_ECANCELED"' "$tmp/out")" -ge 1 ] &&
   [ "$(sed -n 's/^{"line":\([0-9]*\),.*/\1/p' "$tmp/out" | tr '\n' ' ')" = "$(seq 1 "$n" | tr '\n' ' ')" ]; then
    pass "Ctrl-C: in-flight prompts reported cancelled, in order; the rest not sent; exit 130"
else fail "batch Ctrl-C ($n lines)"; fi

# ---------------------------------------------------------------------
# On a terminal: a progress bar on standard error, erased for each line
# ---------------------------------------------------------------------

PTY="$top_builddir/tests/pty_drive"
if [ -x "$PTY" ]; then
    cat >"$tmp/bar.pty" <<'EOF'
expect [..............................] 0/10
expect ] 10/10
exit 0
EOF
    TERM=dumb "$PTY" -t 20 -o "$tmp/out" "$ACORE" -C "$CONF" --concurrency 3 batch "$tmp/many.txt" \
        <"$tmp/bar.pty" >/dev/null 2>"$tmp/err"
    rc=$?
    # Each result line starts at the beginning of a line: the bar was
    # erased ("\r" and blanks, then "\r") before it was printed.
    if [ $rc -eq 0 ] && [ "$(grep -c '^{"line":' "$tmp/out")" -eq 0 ] &&
       [ "$(tr '\r' '\n' <"$tmp/out" | grep -c '^{"line":')" -eq 10 ]; then
        pass "a progress bar on a terminal, erased before each result"
    else fail "progress bar"; fi
else hard_error "$PTY is not built"; fi

mockd_summary
