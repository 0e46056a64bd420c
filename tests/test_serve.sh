#!/bin/sh
# test_serve.sh -- acore-serve as a program, and `acore serve` running
# it: options, exit statuses, the listening line, a request, the access
# log on standard error, and SIGTERM ending it with status 0.
ME=test_serve
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/mockd.sh"
SERVE="$top_builddir/server/acore-serve"
ACORE="$top_builddir/cli/acore"
LOAD="$top_builddir/tests/gw_load"
[ -x "$SERVE" ] || hard_error "$SERVE is not built"
[ -x "$LOAD" ] || hard_error "$LOAD is not built"
mockd_begin acore-serve

run 10 "$SERVE" --help
if [ "$rc" -eq 0 ] && out_has "^usage: acore-serve" && out_has "/v1/chat/completions"; then
    pass "acore-serve --help"
else
    fail "acore-serve --help"
fi
run 10 env ACORE_SERVE="$SERVE" "$ACORE" serve --help
if [ "$rc" -eq 0 ] && out_has "^usage: acore-serve"; then
    pass "acore serve --help runs acore-serve"
else
    fail "acore serve --help runs acore-serve"
fi
run 10 "$SERVE" --version
if [ "$rc" -eq 0 ] && out_has "^acore-serve [0-9]"; then pass "--version"; else fail "--version"; fi
run 10 "$SERVE" --lisen 1
if [ "$rc" -eq 2 ] && err_has "unknown option '--lisen'"; then pass "a bad option: 2"; else fail "a bad option: 2"; fi
run 10 "$SERVE" extra
if [ "$rc" -eq 2 ] && err_has "unexpected argument 'extra'"; then pass "an operand: 2"; else fail "an operand: 2"; fi

printf 'server = { listen = "localhost:80"; };\n' >"$tmp/bad.conf"
run 10 "$SERVE" -C "$tmp/bad.conf"
if [ "$rc" -eq 3 ] && err_has "server.listen" && err_has "bad.conf:1"; then
    pass "a bad server section: 3, naming file, line and key"
else
    fail "a bad server section: 3, naming file, line and key"
fi
run 10 env ACORE_SERVE="$SERVE" "$ACORE" -C "$tmp/bad.conf" serve
if [ "$rc" -eq 3 ] && err_has "server.listen" && err_has "bad.conf:1"; then
    pass "acore -C FILE serve: the gateway reads FILE"
else
    fail "acore -C FILE serve: the gateway reads FILE"
fi
run 10 "$SERVE" -c "$tmp/bad.conf"
if [ "$rc" -eq 3 ] && err_has "bad.conf:1"; then pass "-c is -C"; else fail "-c is -C"; fi
printf 'server = { aliases = [ "x" ]; };\n' >"$tmp/bad2.conf"
run 10 "$SERVE" -C "$tmp/bad2.conf"
if [ "$rc" -eq 3 ] && err_has "server.aliases: 'x' is not ALIAS=PROVIDER/MODEL"; then
    pass "a bad alias: 3"
else
    fail "a bad alias: 3"
fi
printf 'abc key1\n' >"$tmp/keys"
printf 'server = { keys_file = "%s"; keys = ( { id = "abc"; key = "k2"; } ); };\n' "$tmp/keys" >"$tmp/bad3.conf"
run 10 "$SERVE" -C "$tmp/bad3.conf"
if [ "$rc" -eq 3 ] && err_has "client key id 'abc' is used twice" && ! err_has key1; then
    pass "a key id used twice: 3, and the key not shown"
else
    fail "a key id used twice: 3, and the key not shown"
fi

# A real run: port 0, a request, the access log, SIGTERM.
printf 'reply = "pong"; chunks = 2;\n' >"$tmp/script.conf"
mockd_start --quiet
cat >"$tmp/gw.conf" <<EOF
abstractcore = { plugin_path = [ "$PLUGDIR" ]; };
providers = ( { name = "mock"; plugin = "openai"; base_url = "$url/v1"; api_key = "sk-UPSTREAM"; } );
server = { listen = "127.0.0.1:0"; keys_file = "$tmp/keys"; };
EOF
printf '# the clients\nweb sk-web-0123456789 rpm=100\n' >"$tmp/keys"
: >"$tmp/gw.out"
"$SERVE" -C "$tmp/gw.conf" >"$tmp/gw.out" 2>"$tmp/gw.err" &
gwpid=$!
base=
i=0
while [ $i -lt 100 ] && [ -z "$base" ]; do
    base=$(sed -n 's/^acore-serve listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/gw.out")
    sleep 0.1
    i=$((i + 1))
done
if [ -n "$base" ]; then pass "the listening line"; else fail "the listening line"; fi
run 20 "$LOAD" "$base" 3 --key sk-web-0123456789 --expect-complete
if [ "$rc" -eq 0 ] && out_has "complete=3 "; then pass "streams with a key from the keys file"; else fail "streams with a key from the keys file"; fi
run 20 "$LOAD" "$base" 1 --key sk-wrong
if out_has "clean_error=1 "; then pass "a wrong key: refused"; else fail "a wrong key: refused"; fi
kill -TERM "$gwpid"
# SIGTERM ends it within server.shutdown_timeout_ms (10 s): wait that
# long and a little, never for good.
i=0
while kill -0 "$gwpid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$gwpid" 2>/dev/null; then
    kill -KILL "$gwpid"
    echo "acore-serve did not end within 15 s of SIGTERM"
fi
wait "$gwpid"
rc=$?
cp "$tmp/gw.err" "$tmp/err"
if [ "$rc" -eq 0 ] && [ "$(grep -c 'key=web "POST /v1/chat/completions" status=200 provider=mock' "$tmp/err")" -eq 3 ] &&
   err_has 'key=- "POST /v1/chat/completions" status=401' && ! err_has "sk-"; then
    pass "SIGTERM: exit 0; the access log on standard error, with ids, not keys"
else
    fail "SIGTERM: exit 0; the access log on standard error, with ids, not keys"
fi
mockd_summary
