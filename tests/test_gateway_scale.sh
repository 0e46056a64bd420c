#!/bin/sh
# test_gateway_scale.sh -- the scale-out of docs/deploying.md, for real:
# nginx (started as this user, a config in a temporary folder, loopback
# ports, no system service) in front of two acore-serve instances backed
# by acore-mockd; 1,000 concurrent streams through nginx (tests/gw_load);
# one instance stopped with SIGTERM once every stream is under way.
# Every request must either complete or fail with a clean error (an
# error status, or an error event in a stream that then ends properly),
# none may be cut; the stopped instance must exit 0; and the requests
# that follow must all complete, on the surviving instance.
#
# Skips (77) with a message when nginx is not installed or cannot start.
ME=test_gateway_scale
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "${top_srcdir:-$(dirname "$0")/..}/tests/mockd.sh"
SERVE="$top_builddir/server/acore-serve"
LOAD="$top_builddir/tests/gw_load"
N=${GW_SCALE_N:-1000}

NGINX=$(command -v nginx 2>/dev/null || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
    echo "$ME: SKIP: nginx is not installed (Debian package nginx, in .ci/packages)"
    exit 77
fi
[ -x "$SERVE" ] || hard_error "$SERVE is not built"
[ -x "$LOAD" ] || hard_error "$LOAD is not built (make tests/gw_load)"

mockd_begin acore-scale
gw1pid=
gw2pid=
nginxpid=
scale_cleanup() {
    for p in $nginxpid $gw1pid $gw2pid; do
        kill "$p" 2>/dev/null
    done
    for p in $nginxpid $gw1pid $gw2pid; do
        wait "$p" 2>/dev/null
    done
    mockd_cleanup
}
trap scale_cleanup EXIT

# Streams of three seconds: 30 pieces, 100 ms apart.
cat >"$tmp/script.conf" <<'EOF'
scenarios = (
  { model = "slow"; reply = "The quick brown fox jumps over the lazy dog, thirty times in a row."; chunks = 30; delay_ms = 100; }
);
EOF
mockd_start --quiet
cat >"$tmp/gw.conf" <<EOF
abstractcore = { plugin_path = [ "$PLUGDIR" ]; };
providers = ( { name = "mock"; plugin = "openai"; base_url = "$url/v1"; api_key = "unused";
                max_retries = 0; } );
server = { max_connections = 8000; shutdown_timeout_ms = 1000; access_log = ""; };
EOF

# start_gw N: an instance on a free port; sets gwNpid and gwNport.
start_gw() {
    : >"$tmp/gw$1.out" # before the background job's redirection, which may come late
    "$SERVE" -C "$tmp/gw.conf" --listen 127.0.0.1:0 >"$tmp/gw$1.out" 2>"$tmp/gw$1.err" &
    eval "gw$1pid=$!"
    i=0
    port=
    while [ $i -lt 100 ]; do
        port=$(sed -n 's/^acore-serve listening on http:.*:\([0-9]*\)$/\1/p' "$tmp/gw$1.out")
        [ -n "$port" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$port" ] || hard_error "acore-serve $1 did not start: $(cat "$tmp/gw$1.err")"
    eval "gw$1port=$port"
}
start_gw 1
start_gw 2
echo "# gateways on ports $gw1port ($gw1pid) and $gw2port ($gw2pid)"

# nginx on a free loopback port: try a few at random (nginx has no port 0).
mkdir -p "$tmp/nginx/logs"
userline=
[ "$(id -u)" = 0 ] && userline="user root;"
try=0
nport=
while [ $try -lt 10 ]; do
    p=$(( 20000 + ($$ * 7 + try * 7919) % 40000 ))
    cat >"$tmp/nginx/nginx.conf" <<EOF
$userline
worker_processes 1;
daemon off;
master_process off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 10000; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    upstream gateways {
        server 127.0.0.1:$gw1port max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$gw2port max_fails=1 fail_timeout=30s;
        keepalive 256;
    }
    server {
        listen 127.0.0.1:$p;
        location / {
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_next_upstream error timeout;
        }
    }
}
EOF
    "$NGINX" -p "$tmp/nginx" -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf" \
        >"$tmp/nginx/out" 2>&1 &
    nginxpid=$!
    i=0
    while [ $i -lt 50 ] && kill -0 "$nginxpid" 2>/dev/null; do
        if "$LOAD" --get "http://127.0.0.1:$p/health" >/dev/null 2>&1; then
            nport=$p
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$nport" ] && break
    kill "$nginxpid" 2>/dev/null
    wait "$nginxpid" 2>/dev/null
    nginxpid=
    try=$((try + 1))
done
if [ -z "$nport" ]; then
    echo "$ME: SKIP: nginx could not start: $(cat "$tmp/nginx/out" "$tmp/nginx/logs/error.log" 2>/dev/null | tail -n 3)"
    exit 77
fi
echo "# nginx ($NGINX) on port $nport"

# 1. $N streams through nginx; instance 1 gets SIGTERM once all are under way.
run 60 "$LOAD" "http://127.0.0.1:$nport" "$N" --model mock/slow --signal-pid "$gw1pid"
cat "$tmp/out" "$tmp/err"
complete=$(sed -n 's/.* complete=\([0-9]*\) .*/\1/p' "$tmp/out")
clean=$(sed -n 's/.* clean_error=\([0-9]*\) .*/\1/p' "$tmp/out")
if [ "$rc" -eq 0 ] && out_has "dirty=0 " && [ $((complete + clean)) -eq "$N" ] &&
   [ "$complete" -gt 0 ] && [ "$clean" -gt 0 ]; then
    pass "$N streams through nginx, instance 1 stopped mid-run: $complete complete, $clean clean errors, none cut"
else
    fail "$N streams through nginx, instance 1 stopped mid-run"
fi

# 2. The stopped instance drained, cancelled the rest, and exited 0.
i=0
while kill -0 "$gw1pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
wait "$gw1pid"
st=$?
gw1pid=
if [ "$st" -eq 0 ]; then
    pass "the stopped instance exited 0"
else
    rc=$st
    fail "the stopped instance exited 0 (it exited $st: $(tail -n 3 "$tmp/gw1.err"))"
fi

# 3. What comes next goes to the survivor, all of it.
run 60 "$LOAD" "http://127.0.0.1:$nport" 200 --model mock/slow --expect-complete
cat "$tmp/out" "$tmp/err"
if [ "$rc" -eq 0 ] && out_has "complete=200 "; then
    pass "200 streams after the stop: all complete, on the surviving instance"
else
    fail "200 streams after the stop: all complete, on the surviving instance"
fi
"$LOAD" --get "http://127.0.0.1:$gw2port/metrics" >"$tmp/metrics" 2>/dev/null
served=$(sed -n 's/^acore_gateway_requests_total{endpoint="chat_completions",status="200"} \([0-9]*\)$/\1/p' "$tmp/metrics")
if [ -n "$served" ] && [ "$served" -ge 200 ]; then
    pass "the survivor's /metrics counts them ($served streams answered 200)"
else
    rc=1
    fail "the survivor's /metrics counts them (got '$served')"
fi
mockd_summary
