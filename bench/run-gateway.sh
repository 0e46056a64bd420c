#!/bin/sh
# run-gateway.sh -- `make bench` (and `make bench-gateway`): N concurrent
# streams through acore-serve against the same N straight to the mock.
#
#   run-gateway.sh BUILDDIR SRCDIR
#
# Each run starts a fresh acore-mockd (and, for the gateway rows, a fresh
# acore-serve on it) and drives N streams at once with tests/gw_load (one
# libcurl multi handle, a connection each).  Rows:
#   direct      gw_load -> acore-mockd                (the floor)
#   openai      gw_load -> acore-serve (OpenAI API)   -> acore-mockd
#   anthropic   gw_load -> acore-serve (Anthropic API) -> acore-mockd
# Columns: wall time of the N streams (client side), when the replies
# began (the first byte of each, from the start: median and 99th
# percentile), the gateway's CPU
# time (user + system, from /proc), its peak resident memory (VmHWM) and
# that peak less its resident memory before the run, per stream, the
# mock's CPU time, and the client's CPU time.  Medians of the runs;
# memory is the largest.
#
# Knobs: BENCH_GW_N (1000), BENCH_GW_STREAM ("20x50": chunks x ms apart),
# BENCH_GW_REPEAT (3), BENCH_GW_OUT (BUILDDIR/bench/gateway.md).
set -eu
builddir=${1:?usage: run-gateway.sh BUILDDIR SRCDIR}
srcdir=${2:?usage: run-gateway.sh BUILDDIR SRCDIR}
N=${BENCH_GW_N:-1000}
STREAM=${BENCH_GW_STREAM:-20x50}
REPEAT=${BENCH_GW_REPEAT:-3}
OUT=${BENCH_GW_OUT:-$builddir/bench/gateway.md}
CHUNKS=${STREAM%x*}
DELAY=${STREAM#*x}
MOCKD=$builddir/sdk/mock/acore-mockd
SERVE=$builddir/server/acore-serve
LOAD=$builddir/tests/gw_load
PLUGDIR=$builddir/plugins/openai/.libs
for f in "$MOCKD" "$SERVE" "$LOAD"; do
    [ -x "$f" ] || { echo "run-gateway.sh: $f is not built" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acore-bench-gw.XXXXXX")
mockpid=
gwpid=
cleanup() {
    for p in $gwpid $mockpid; do kill "$p" 2>/dev/null || true; done
    for p in $gwpid $mockpid; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# CPU ms of a process so far (utime + stime).
cpu_ms() {
    tck=$(getconf CLK_TCK)
    awk -v t="$tck" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000 / t }' "/proc/$1/stat"
}
hwm_mb() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

start_mock() {
    : >"$tmp/mock.out"
    "$MOCKD" --port 0 --url-only --quiet --chunks "$CHUNKS" --delay-ms "$DELAY" \
        >"$tmp/mock.out" 2>"$tmp/mock.err" &
    mockpid=$!
    i=0
    url=
    while [ $i -lt 100 ] && [ -z "$url" ]; do
        url=$(head -n 1 "$tmp/mock.out")
        sleep 0.05
        i=$((i + 1))
    done
    [ -n "$url" ] || { echo "run-gateway.sh: acore-mockd did not start" >&2; exit 1; }
}

start_gw() {
    cat >"$tmp/gw.conf" <<EOF
abstractcore = { plugin_path = [ "$PLUGDIR" ]; };
providers = ( { name = "mock"; plugin = "openai"; base_url = "$url/v1"; api_key = "unused";
                max_retries = 0; } );
server = { max_connections = 20000; access_log = ""; };
EOF
    : >"$tmp/gw.out"
    "$SERVE" -C "$tmp/gw.conf" --listen 127.0.0.1:0 >"$tmp/gw.out" 2>"$tmp/gw.err" &
    gwpid=$!
    i=0
    gw=
    while [ $i -lt 100 ] && [ -z "$gw" ]; do
        gw=$(sed -n 's/^acore-serve listening on \(http:.*\)$/\1/p' "$tmp/gw.out")
        sleep 0.05
        i=$((i + 1))
    done
    [ -n "$gw" ] || { echo "run-gateway.sh: acore-serve did not start: $(cat "$tmp/gw.err")" >&2; exit 1; }
}

stop_all() {
    for p in $gwpid $mockpid; do kill "$p" 2>/dev/null || true; done
    for p in $gwpid $mockpid; do wait "$p" 2>/dev/null || true; done
    gwpid=
    mockpid=
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

: >"$tmp/rows"
for row in direct openai anthropic; do
    for r in $(seq "$REPEAT"); do
        start_mock
        target=$url
        model=x
        api=openai
        gwcpu0=0
        if [ "$row" != direct ]; then
            start_gw
            target=$gw
            model=mock/x
            [ "$row" = anthropic ] && api=anthropic
            gwcpu0=$(cpu_ms "$gwpid")
            gwrss0=$(rss_kb "$gwpid")
        fi
        mockcpu0=$(cpu_ms "$mockpid")
        line=$("$LOAD" "$target" "$N" --api "$api" --model "$model" --expect-complete --quiet) || {
            echo "run-gateway.sh: $row run $r: $line" >&2
            exit 1
        }
        wall=$(echo "$line" | sed -n 's/.* wall_ms=\([0-9]*\).*/\1/p')
        ccpu=$(echo "$line" | sed -n 's/.* cpu_ms=\([0-9]*\).*/\1/p')
        fb50=$(echo "$line" | sed -n 's/.* first_byte_p50_ms=\([0-9]*\).*/\1/p')
        fb99=$(echo "$line" | sed -n 's/.* first_byte_p99_ms=\([0-9]*\).*/\1/p')
        mcpu=$(awk -v a="$(cpu_ms "$mockpid")" -v b="$mockcpu0" 'BEGIN { print a - b }')
        if [ "$row" = direct ]; then
            gcpu=-
            ghwm=-
            gper=-
        else
            gcpu=$(awk -v a="$(cpu_ms "$gwpid")" -v b="$gwcpu0" 'BEGIN { print a - b }')
            ghwm=$(hwm_mb "$gwpid")
            gper=$(awk -v h="$(hwm_kb "$gwpid")" -v r="$gwrss0" -v n="$N" \
                'BEGIN { printf "%.1f", (h - r) / n }')
        fi
        echo "$row $wall $gcpu $ghwm $mcpu $ccpu $gper $fb50 $fb99" >>"$tmp/rows"
        echo "run-gateway.sh: $row run $r: wall ${wall} ms, first byte p50 ${fb50} p99 ${fb99} ms, gateway cpu ${gcpu} ms, peak ${ghwm} MB (${gper} KiB a stream), mock cpu ${mcpu} ms"
        stop_all
    done
done

mkdir -p "$(dirname "$OUT")"
{
    echo "| path | wall time of $N streams | first byte p50 / p99 | gateway CPU | gateway peak memory | per stream | mock CPU | client CPU |"
    echo "|---|---|---|---|---|---|---|---|"
    for row in direct openai anthropic; do
        w=$(awk -v r="$row" '$1 == r { print $2 }' "$tmp/rows" | median)
        g=$(awk -v r="$row" '$1 == r { print $3 }' "$tmp/rows" | median)
        h=$(awk -v r="$row" '$1 == r { print $4 }' "$tmp/rows" | sort -n | tail -n 1)
        m=$(awk -v r="$row" '$1 == r { print $5 }' "$tmp/rows" | median)
        c=$(awk -v r="$row" '$1 == r { print $6 }' "$tmp/rows" | median)
        k=$(awk -v r="$row" '$1 == r { print $7 }' "$tmp/rows" | sort -n | tail -n 1)
        f5=$(awk -v r="$row" '$1 == r { print $8 }' "$tmp/rows" | median)
        f9=$(awk -v r="$row" '$1 == r { print $9 }' "$tmp/rows" | median)
        case $row in
        direct) name="client -> mock (direct)" ;;
        openai) name="client -> acore-serve (OpenAI API) -> mock" ;;
        anthropic) name="client -> acore-serve (Anthropic API) -> mock" ;;
        esac
        [ "$g" = - ] && gs=- || gs="$g ms"
        [ "$h" = - ] && hs=- || hs="$h MB"
        [ "$k" = - ] && ks=- || ks="$k KiB"
        echo "| $name | $w ms | $f5 / $f9 ms | $gs | $hs | $ks | $m ms | $c ms |"
    done
    echo
    echo "$N concurrent streams of $CHUNKS chunks ${DELAY} ms apart (at least $(( (CHUNKS - 1) * DELAY )) ms each), medians of $REPEAT runs; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(date -u '+%Y-%m-%d')."
} >"$OUT"
cat "$OUT"
