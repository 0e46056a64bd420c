#!/bin/sh
# test_gateway_sdk.sh -- the official Node.js SDKs (openai and
# @anthropic-ai/sdk, from the npm registry) as clients of acore-serve
# backed by acore-mockd: tests/gateway_sdk.mjs.  The packages are
# installed by npm into the build tree (tests/node/, pinned versions,
# never globally), once, as bench/run-bench.sh installs openai.
#
# Skips (77) with a message when node or npm is missing or the install
# fails (no registry).
ME=test_gateway_sdk
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/tests/mockd.sh"
SERVE="$top_builddir/server/acore-serve"
OPENAI_VERSION=${GW_OPENAI_VERSION:-6.49.0}
ANTHROPIC_VERSION=${GW_ANTHROPIC_VERSION:-1.17.0}
nodedir="$top_builddir/tests/node"

if ! command -v node >/dev/null 2>&1; then
    echo "$ME: SKIP: node is not installed (the SDK tests need Node.js and npm)"
    exit 77
fi
if [ ! -f "$nodedir/node_modules/openai/package.json" ] ||
   [ ! -f "$nodedir/node_modules/@anthropic-ai/sdk/package.json" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "$ME: SKIP: npm is not installed (the SDK tests install openai and @anthropic-ai/sdk with it)"
        exit 77
    fi
    mkdir -p "$nodedir"
    echo "# npm install openai@$OPENAI_VERSION @anthropic-ai/sdk@$ANTHROPIC_VERSION into $nodedir"
    if ! npm install --prefix "$nodedir" --cache "$nodedir/.npm-cache" --no-audit --no-fund \
            --no-package-lock --loglevel=error "openai@$OPENAI_VERSION" \
            "@anthropic-ai/sdk@$ANTHROPIC_VERSION" >"$nodedir/npm.log" 2>&1; then
        echo "$ME: SKIP: npm install failed (no registry?): $(tail -n 3 "$nodedir/npm.log")"
        rm -rf "$nodedir/node_modules"
        exit 77
    fi
fi
[ -x "$SERVE" ] || hard_error "$SERVE is not built"

mockd_begin acore-sdk
gwpid=
sdk_cleanup() {
    if [ -n "$gwpid" ]; then
        kill "$gwpid" 2>/dev/null
        wait "$gwpid" 2>/dev/null
    fi
    mockd_cleanup
}
trap sdk_cleanup EXIT

cat >"$tmp/script.conf" <<'EOF'
scenarios = (
  { model = "echo"; echo = true; chunks = 3; usage = [5, 3]; },
  { model = "tools"; reply = ""; tool_calls = ( { id = "call_1"; name = "get_weather"; arguments = "{\"city\": \"Paris\"}"; } );
    after_tool_result = "It is sunny."; },
  { model = "json"; reply = "{\"name\": \"Ada\", \"age\": 36}"; chunks = 4; },
  { model = "midfail"; chunks = 4; stream_error = "Overloaded"; },
  { model = "hang"; reply = "first"; chunks = 1; hang = true; },
  { model = "emb"; embedding_dim = 32; }
);
EOF
mockd_start
KEY=sk-gateway-test-0123456789
cat >"$tmp/gw.conf" <<EOF
abstractcore = { plugin_path = [ "$PLUGDIR", "$top_builddir/plugins/anthropic/.libs" ]; };
providers = (
  { name = "mock"; plugin = "openai"; base_url = "$url/v1"; api_key = "sk-UPSTREAM"; max_retries = 0; },
  { name = "anth"; plugin = "anthropic"; base_url = "$url"; api_key = "sk-UPSTREAM"; max_retries = 0; }
);
server = { access_log = "$tmp/access.log"; keys = ( { id = "sdk"; key = "$KEY"; } ); };
EOF
: >"$tmp/gw.out"
"$SERVE" -C "$tmp/gw.conf" --listen 127.0.0.1:0 >"$tmp/gw.out" 2>"$tmp/gw.err" &
gwpid=$!
i=0
base=
while [ $i -lt 100 ]; do
    base=$(sed -n 's/^acore-serve listening on \(http:.*\)$/\1/p' "$tmp/gw.out")
    [ -n "$base" ] && break
    sleep 0.1
    i=$((i + 1))
done
[ -n "$base" ] || hard_error "acore-serve did not start: $(cat "$tmp/gw.err")"
echo "# acore-serve at $base; node $(node --version)"

node "$top_srcdir/tests/gateway_sdk.mjs" "$nodedir/node_modules" "$base" "$KEY" "$tmp/mockd.err"
st=$?
if grep -q "sk-UPSTREAM\|$KEY" "$tmp/access.log" "$tmp/gw.err" 2>/dev/null; then
    echo "FAIL: a key reached the access log or the gateway's messages"
    st=1
else
    echo "PASS: no key in the access log or the gateway's messages"
fi
exit $st
