#!/bin/sh
# run-bench.sh -- `make bench`: every benchmark, side by side, with its
# target.
#
#   run-bench.sh BUILDDIR SRCDIR
#
# Scenarios (each contender runs in its own process against
# sdk/mock/acore-mockd, a fresh mock process per run, so CPU time and
# memory are the contender's own and the server's is reported beside it):
#   burst    the first burst on a fresh client against a server that
#            delays its response headers (first_byte_delay_ms): N requests
#            at once, nothing before them.  Wall time against N = 1.
#   streams  N concurrent streams of CHUNKS chunks DELAY ms apart, after
#            one warm-up and BENCH_SINGLE single requests (their median is
#            "a single request").
#   sse      bench/bench_sse: recorded SSE through the decoding path, MB/s.
#   startup  `acore --version` (hyperfine when installed, else a fork/exec
#            loop) and ac_core_open + ac_core_close with six plugins.
# Contenders:
#   thread   the library with its defaults (bench_client --mode thread)
#   host     the library in host mode, driven by a poll() loop
#   curl     bare libcurl on one multi handle (bench_curl): the floor
#   node     the official openai Node.js SDK (bench_openai.mjs), installed
#            with npm into BUILDDIR/bench/node/ when node and npm exist
#   pool     the thread-per-request design (cores + 4 threads, ac_generate)
#
# Writes BUILDDIR/bench/results/*.csv (one per scenario), charts
# BUILDDIR/bench/perf-*.png (gnuplot), and BUILDDIR/bench/performance.md.
#
# Knobs (environment; empty means the default):
#   BENCH_REPEAT (3)            runs per contender and N; medians are shown
#   BENCH_SCENARIOS ("burst streams sse startup")
#   BENCH_BURST_N ("1 50 1000")   BENCH_BURST_DELAY_MS (1000)
#   BENCH_BURST_CONTENDERS ("thread curl node")
#   BENCH_STREAM_N ("1 1000 5000 10000")   BENCH_STREAM ("20x50": chunks x ms)
#   BENCH_STREAM_CONTENDERS ("thread host curl node")
#   BENCH_POOL_N ("1000"; "" skips the slow thread-pool runs)
#   BENCH_SINGLE (3)  BENCH_REPLY_BYTES (400)
#   BENCH_SSE_MB (64)  BENCH_SSE_PIECE (16384)  BENCH_STARTUP_RUNS (100)
#   BENCH_NODE ("auto"; "no" skips the Node SDK)
#   BENCH_OPENAI_VERSION (6.49.0: the newest openai that runs on Node 20;
#                         7.x needs Node >= 22)
#   BENCH_TIMEOUT (900 s per run)
#   BENCH_OUT (BUILDDIR/bench/performance.md)
#   BENCH_REPORT_ONLY (0; 1: run nothing, rebuild the CSV files, charts and
#                      performance.md from bench/results/raw/ of the last run,
#                      with the same knobs)
set -eu

builddir=${1:?usage: run-bench.sh BUILDDIR SRCDIR}
srcdir=${2:?usage: run-bench.sh BUILDDIR SRCDIR}
builddir=$(cd "$builddir" && pwd)
srcdir=$(cd "$srcdir" && pwd)
REPEAT=${BENCH_REPEAT:-3}
SCENARIOS=${BENCH_SCENARIOS:-burst streams sse startup}
BURST_N=${BENCH_BURST_N:-1 50 1000}
BURST_DELAY=${BENCH_BURST_DELAY_MS:-1000}
BURST_CONTENDERS=${BENCH_BURST_CONTENDERS:-thread curl node}
STREAM_N=${BENCH_STREAM_N:-1 1000 5000 10000}
STREAM=${BENCH_STREAM:-20x50}
STREAM_CONTENDERS=${BENCH_STREAM_CONTENDERS:-thread host curl node}
POOL_N=${BENCH_POOL_N-1000}
SINGLE=${BENCH_SINGLE:-3}
REPLY_BYTES=${BENCH_REPLY_BYTES:-400}
SSE_MB=${BENCH_SSE_MB:-64}
SSE_PIECE=${BENCH_SSE_PIECE:-16384}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-100}
NODE_WANTED=${BENCH_NODE:-auto}
OPENAI_VERSION=${BENCH_OPENAI_VERSION:-6.49.0}
RUN_TIMEOUT=${BENCH_TIMEOUT:-900}
REPORT_ONLY=${BENCH_REPORT_ONLY:-0}
OUT=${BENCH_OUT:-$builddir/bench/performance.md}
CHUNKS=${STREAM%x*}
DELAY=${STREAM#*x}

res=$builddir/bench/results
raw=$res/raw
mkdir -p "$raw" "$res/plot"
if [ "$REPORT_ONLY" = 1 ]; then
    [ -f "$raw/meta" ] || { echo "run-bench.sh: no $raw/meta: nothing to report on" >&2; exit 1; }
    rm -f "$res"/*.csv "$res"/plot/* "$builddir"/bench/perf-*.png
else
    rm -f "$raw"/* "$res"/*.csv "$res"/plot/* "$builddir"/bench/perf-*.png
fi

mockd=$builddir/sdk/mock/acore-mockd
client=$builddir/bench/bench_client
bare=$builddir/bench/bench_curl
sse=$builddir/bench/bench_sse
startup=$builddir/bench/bench_startup
plugindir=$builddir/plugins/openai/.libs
for f in "$mockd" "$client" "$bare" "$sse" "$startup"; do
    [ -x "$f" ] || { echo "run-bench.sh: $f is not built" >&2; exit 1; }
done
[ -d "$plugindir" ] || { echo "run-bench.sh: no $plugindir" >&2; exit 1; }

has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
get() { sed -n "s/^$2=//p" "$1" 2>/dev/null | head -n 1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
is_num() { case $1 in '' | *[!0-9.e+-]*) return 1 ;; esac; return 0; }

# --- the machine ---------------------------------------------------------
# Every socket is a descriptor: raise our soft limit to the hard limit
# (the programs raise their own too) and say when the hard one is short.
nofile_hard=$(ulimit -Hn)
ulimit -n "$nofile_hard" 2>/dev/null || true
nofile_soft=$(ulimit -n)
somaxconn=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo unknown)
cores=$(getconf _NPROCESSORS_ONLN)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
curlver=$(curl-config --version 2>/dev/null || echo "libcurl (version unknown)")
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)
date_start=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "run-bench.sh: $cores cores, load average $load_start, open files $nofile_soft (hard $nofile_hard), somaxconn $somaxconn"

# --- the Node SDK --------------------------------------------------------
nodedir=$builddir/bench/node
node_status=
node_ver=
sdk_ver=
if [ "$REPORT_ONLY" = 1 ]; then
    :
elif [ "$NODE_WANTED" = no ]; then
    node_status="not run: BENCH_NODE=no"
elif ! command -v node >/dev/null 2>&1; then
    node_status="not run: node not found"
else
    node_ver=$(node --version 2>/dev/null || echo unknown)
    if [ ! -f "$nodedir/node_modules/openai/package.json" ]; then
        if ! command -v npm >/dev/null 2>&1; then
            node_status="not run: npm not found"
        else
            echo "run-bench.sh: npm install openai@$OPENAI_VERSION into $nodedir"
            mkdir -p "$nodedir"
            if ! npm install --prefix "$nodedir" --cache "$nodedir/.npm-cache" --no-audit \
                    --no-fund --no-package-lock --loglevel=error "openai@$OPENAI_VERSION" \
                    >"$res/npm.log" 2>&1; then
                node_status="not run: npm install openai@$OPENAI_VERSION failed (bench/results/npm.log)"
                rm -rf "$nodedir/node_modules"
            fi
        fi
    fi
    if [ -z "$node_status" ]; then
        sdk_ver=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
            "$nodedir/node_modules/openai/package.json" | head -n 1)
    fi
fi
if [ "$REPORT_ONLY" = 1 ]; then
    # The machine and versions as they were during the run.
    . "$raw/meta"
else
    cat >"$raw/meta" <<EOF
date_start='$date_start'
load_start='$load_start'
node_status='$node_status'
node_ver='$node_ver'
sdk_ver='$sdk_ver'
nofile_soft='$nofile_soft'
nofile_hard='$nofile_hard'
somaxconn='$somaxconn'
EOF
fi
[ -n "$node_status" ] && echo "run-bench.sh: Node SDK $node_status"

# --- the mock server -----------------------------------------------------
mockpid=
stop_mock() {
    if [ -n "$mockpid" ]; then
        kill "$mockpid" 2>/dev/null || true
        wait "$mockpid" 2>/dev/null || true
    fi
    mockpid=
}
trap stop_mock EXIT
trap 'stop_mock; exit 1' INT TERM

write_scenario() {   # write_scenario NAME -> $raw/NAME.cfg
    case $1 in
    burst) cat >"$raw/burst.cfg" <<EOF
# first burst: the headers come after $BURST_DELAY ms, then the whole reply
reply_len = $REPLY_BYTES;
chunks = 20;
delay_ms = 0;
first_byte_delay_ms = $BURST_DELAY;
usage = [ 12, 20 ];
EOF
    ;;
    streams) cat >"$raw/streams.cfg" <<EOF
# concurrent streams: $CHUNKS chunks $DELAY ms apart
reply_len = $REPLY_BYTES;
chunks = $CHUNKS;
delay_ms = $DELAY;
usage = [ 12, $CHUNKS ];
EOF
    ;;
    esac
}

start_mock() {   # start_mock CFG -> url, mockpid
    "$mockd" --quiet --url-only --port 0 "$1" >"$raw/mockd.out" 2>"$raw/mockd.err" &
    mockpid=$!
    url=
    i=0
    while [ $i -lt 100 ]; do
        url=$(grep '^http://' "$raw/mockd.out" | head -n 1)
        [ -n "$url" ] && return 0
        kill -0 "$mockpid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "run-bench.sh: acore-mockd did not start:" >&2
    cat "$raw/mockd.err" >&2
    exit 1
}

server_cpu() {   # CPU ms the mock server has used so far
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000 / hz }' \
        "/proc/$mockpid/stat"
}

tmo() { if command -v timeout >/dev/null 2>&1; then timeout "$RUN_TIMEOUT" "$@"; else "$@"; fi; }

# run_one SCEN CONTENDER N K SINGLE -> $raw/SCEN-CONTENDER-nN-rK.{out,err,lat}
run_one() {
    base=$raw/$1-$2-n$3-r$4
    start_mock "$raw/$1.cfg"
    set -- "$1" "$2" "$3" "$4" "$5" --url "$url" -n "$3" --single "$5" --latencies "$base.lat"
    case $2 in
    thread | host | pool) cmd="$client --mode $2 --plugin-dir $plugindir" ;;
    curl) cmd=$bare ;;
    node) cmd="node $srcdir/bench/bench_openai.mjs --sdk $nodedir" ;;
    esac
    la=$(loadavg)
    s0=$(server_cpu)
    shift 5
    rc=0
    # shellcheck disable=SC2086
    tmo $cmd "$@" >"$base.out" 2>"$base.err" || rc=$?
    s1=$(server_cpu)
    stop_mock
    {
        echo "exit_status=$rc"
        echo "loadavg_before=$la"
        echo "server_cpu_ms=$(calc %.0f "$s1 - $s0")"
    } >>"$base.out"
    if [ $rc -ne 0 ]; then
        echo "    exit status $rc: $(head -n 2 "$base.err" | tr '\n' ' ')" >&2
    fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# med SCEN CONTENDER N KEY: the median of KEY over the runs that finished
med() {
    for f in "$raw/$1-$2-n$3"-r*.out; do
        [ -f "$f" ] || continue
        [ "$(get "$f" ok)" = "$3" ] || continue
        get "$f" "$4"
    done | median
}
# runs SCEN CONTENDER N KEY: KEY of every run, comma separated
runs() {
    for f in "$raw/$1-$2-n$3"-r*.out; do
        [ -f "$f" ] && get "$f" "$4"
    done | tr '\n' ' ' | sed 's/ $//; s/ /, /g'
}
okmin() {
    for f in "$raw/$1-$2-n$3"-r*.out; do
        [ -f "$f" ] && { v=$(get "$f" ok); echo "${v:-0}"; }
    done | sort -n | head -n 1
}

label() {
    case $1 in
    thread) echo "library (thread mode, defaults)" ;;
    host) echo "library (host mode, poll loop)" ;;
    curl) echo "bare libcurl multi" ;;
    node) echo "openai Node.js SDK ${sdk_ver:+$sdk_ver}" ;;
    pool) echo "library, thread per request (ac_generate)" ;;
    esac
}
plotcolor() {   # one colour per contender, the same in every chart
    case $1 in
    thread) echo "#7b2fbe" ;;
    host) echo "#009e73" ;;
    curl) echo "#56b4e9" ;;
    node) echo "#e69f00" ;;
    pool) echo "#d55e00" ;;
    esac
}
plotname() {
    case $1 in
    thread) echo "library_(thread_mode)" ;;
    host) echo "library_(host_mode)" ;;
    curl) echo "bare_libcurl" ;;
    node) echo "openai_Node_SDK" ;;
    pool) echo "thread_per_request" ;;
    esac
}

CSV_HEAD="scenario,contender,n,runs,ok_min,wall_ms,single_ms,ratio,cpu_ms,cpu_per_req_ms,rss_before_kib,rss_peak_kib,kib_per_req,threads_max,lat_p50_ms,lat_p99_ms,ttft_p50_ms,server_cpu_ms,note"

# scenario SCEN "CONTENDERS" "NS" SINGLE: run, then one CSV row each
scenario() {
    scen=$1 contenders=$2 ns=$3 sc_single=$4
    write_scenario "$scen"
    csv=$res/$scen.csv
    echo "$CSV_HEAD" >"$csv"
    for c in $contenders; do
        for n in $ns; do
            reps=$REPEAT
            [ "$c" = pool ] && reps=1
            note=
            if [ "$c" = node ] && [ -n "$node_status" ]; then
                note=$node_status
            fi
            if [ -z "$note" ]; then
                k=1
                [ "$REPORT_ONLY" = 1 ] && k=$((reps + 1))
                while [ $k -le "$reps" ]; do
                    echo "  $scen: $(label "$c"), N=$n, run $k of $reps (load $(loadavg))"
                    run_one "$scen" "$c" "$n" "$k" "$sc_single"
                    k=$((k + 1))
                done
            fi
            csv_row "$scen" "$c" "$n" "$note" >>"$csv"
        done
        # The chart's data: N, wall, peak RSS (MiB), CPU.
        for n in $ns; do
            w=$(med "$scen" "$c" "$n" wall_ms)
            [ -n "$w" ] || continue
            echo "$n $w $(calc %.1f "$(med "$scen" "$c" "$n" rss_peak_kib) / 1024") $(med "$scen" "$c" "$n" cpu_ms)"
        done >"$res/plot/$scen-$c.dat"
    done
}

csv_row() {   # csv_row SCEN CONTENDER N NOTE (its variables start with r_)
    r_s=$1 r_c=$2 r_n=$3 r_note=$4
    r_runs=0
    for r_f in "$raw/$r_s-$r_c-n$r_n"-r*.out; do [ -f "$r_f" ] && r_runs=$((r_runs + 1)); done
    r_wall=$(med "$r_s" "$r_c" "$r_n" wall_ms)
    if [ -z "$r_note" ] && [ -z "$r_wall" ]; then
        r_f=$raw/$r_s-$r_c-n$r_n-r1
        r_note="failed: ok $(okmin "$r_s" "$r_c" "$r_n")/$r_n; $(grep -v '^ *at ' "$r_f.err" 2>/dev/null | head -n 1 | tr ',' ';' | cut -c1-160)"
    fi
    if [ "$r_s" = burst ]; then
        r_single=$(med "$r_s" "$r_c" 1 wall_ms)
    else
        r_single=$(med "$r_s" "$r_c" "$r_n" single_p50)
    fi
    r_ratio=
    is_num "$r_wall" && is_num "$r_single" && r_ratio=$(calc %.3f "$r_wall / $r_single")
    m() { med "$r_s" "$r_c" "$r_n" "$1"; }
    echo "$r_s,$r_c,$r_n,$r_runs,$(okmin "$r_s" "$r_c" "$r_n"),$r_wall,$r_single,$r_ratio,$(m cpu_ms),$(m cpu_per_req_ms),$(m rss_before_kib),$(m rss_peak_kib),$(m kib_per_req),$(m threads_max),$(m lat_p50),$(m lat_p99),$(m ttft_p50),$(m server_cpu_ms),$r_note"
}

# col CSV CONTENDER N COLUMN-NAME: one field of a CSV row
col() {
    awk -F, -v c="$2" -v n="$3" -v k="$4" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $2 == c && $3 == n { print $idx[k]; exit }' "$1" 2>/dev/null
}

# --- run ------------------------------------------------------------------
if has "$SCENARIOS" burst; then
    echo "scenario burst: headers after $BURST_DELAY ms, N = $BURST_N"
    scenario burst "$BURST_CONTENDERS" "$BURST_N" 0
fi
if has "$SCENARIOS" streams; then
    echo "scenario streams: $CHUNKS chunks $DELAY ms apart, N = $STREAM_N"
    scenario streams "$STREAM_CONTENDERS" "$STREAM_N" "$SINGLE"
    if [ -n "$POOL_N" ]; then
        scenario_pool_csv=$res/streams.csv
        for n in $POOL_N; do
            if [ "$REPORT_ONLY" != 1 ]; then
                echo "  streams: $(label pool), N=$n, run 1 of 1 (load $(loadavg))"
                run_one streams pool "$n" 1 "$SINGLE"
            fi
            csv_row streams pool "$n" "" >>"$scenario_pool_csv"
        done
    fi
fi

if has "$SCENARIOS" sse; then
    echo "scenario sse: $SSE_MB MB per provider in $SSE_PIECE-byte pieces, $REPEAT passes"
    [ "$REPORT_ONLY" = 1 ] ||
        "$sse" --builddir "$builddir" --fixtures "$srcdir/tests/fixtures" --mb "$SSE_MB" \
            --piece "$SSE_PIECE" --repeat "$REPEAT" >"$raw/sse.out" 2>"$raw/sse.err" ||
        { echo "run-bench.sh: bench_sse failed:" >&2; cat "$raw/sse.err" >&2; }
    {
        echo "provider,piece_bytes,stream_bytes,fixtures,passes,wall_ms,cpu_ms,mb_per_s_wall,mb_per_s_cpu,wall_runs_ms"
        for p in openai anthropic; do
            echo "$p,$SSE_PIECE,$(get "$raw/sse.out" "${p}_bytes"),$(get "$raw/sse.out" "${p}_fixtures"),$REPEAT,$(get "$raw/sse.out" "${p}_wall_ms"),$(get "$raw/sse.out" "${p}_cpu_ms"),$(get "$raw/sse.out" "${p}_mbps_wall"),$(get "$raw/sse.out" "${p}_mbps_cpu"),\"$(get "$raw/sse.out" "${p}_wall_runs_ms")\""
        done
    } >"$res/sse.csv"
fi

if has "$SCENARIOS" startup; then
    echo "scenario startup: $STARTUP_RUNS runs each"
    # The real binary, not libtool's wrapper script around it.
    acore=$builddir/cli/.libs/acore
    [ -x "$acore" ] || acore=$builddir/cli/acore
    export LD_LIBRARY_PATH="$builddir/core/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # time_exec NAME PROGRAM [ARG...] -> $raw/NAME.out (startup_p50, _min, _mean)
    if command -v hyperfine >/dev/null 2>&1; then
        startup_method="hyperfine $(hyperfine --version | cut -d' ' -f2) -N; 5 warm-up runs"
        time_exec() {
            te_name=$1
            shift
            hyperfine -N --warmup 5 --runs "$STARTUP_RUNS" --export-json "$raw/$te_name.json" \
                "$*" >"$raw/$te_name.hyperfine" 2>&1 || true
            for k in median min mean; do
                v=$(tr -d ' \n' <"$raw/$te_name.json" 2>/dev/null |
                    sed -n "s/.*\"$k\":\([0-9.e-]*\).*/\1/p")
                is_num "$v" && echo "startup_$k=$(calc %.3f "$v * 1000")"
            done | sed 's/^startup_median=/startup_p50=/' >"$raw/$te_name.out"
        }
    else
        startup_method="fork + exec + wait loop; clock_gettime; 1 warm-up run"
        time_exec() {
            te_name=$1
            shift
            "$startup" --exec "$@" --runs "$STARTUP_RUNS" >"$raw/$te_name.out" \
                2>"$raw/$te_name.err" || true
        }
    fi
    if [ "$REPORT_ONLY" != 1 ]; then
        time_exec acore-version "$acore" --version
        # The floor: an empty program that only links libcurl, as acore does.
        time_exec nop "$builddir/bench/bench_nop"
        "$startup" --builddir "$builddir" --runs "$STARTUP_RUNS" >"$raw/core-open.out" \
            2>"$raw/core-open.err" ||
            { echo "run-bench.sh: bench_startup failed:" >&2; cat "$raw/core-open.err" >&2; }
    fi
    {
        echo "what,runs,method,p50_ms,min_ms,mean_ms"
        echo "acore --version,$STARTUP_RUNS,$startup_method,$(get "$raw/acore-version.out" startup_p50),$(get "$raw/acore-version.out" startup_min),$(get "$raw/acore-version.out" startup_mean)"
        echo "ac_core_open + ac_core_close (6 plugins),$STARTUP_RUNS,in-process clock_gettime; 1 warm-up,$(get "$raw/core-open.out" startup_p50),$(get "$raw/core-open.out" startup_min),$(get "$raw/core-open.out" startup_mean)"
        echo "empty program linked with libcurl,$STARTUP_RUNS,$startup_method,$(get "$raw/nop.out" startup_p50),$(get "$raw/nop.out" startup_min),$(get "$raw/nop.out" startup_mean)"
    } >"$res/startup.csv"
fi
trap - EXIT INT TERM

# --- charts -----------------------------------------------------------------
charts=
if command -v gnuplot >/dev/null 2>&1; then
    term=png
    gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 && term=pngcairo
    chart() {   # chart SCEN CONTENDERS COL WHAT TITLE YLABEL [REF REFLABEL]
        files= names= refs= colors=
        if [ $# -ge 8 ] && is_num "$7"; then
            refs="; ref=$7; reflabel='$8'"
        fi
        for c in $2; do
            f=$res/plot/$1-$c.dat
            [ -s "$f" ] || continue
            files="$files $f"
            names="$names $(plotname "$c")"
            colors="$colors $(plotcolor "$c")"
        done
        [ -n "$files" ] || return 0
        png=$builddir/bench/perf-$1-$4.png
        if gnuplot -e "out='$png'; term='$term'; ttl='$5'; ylab='$6'; col=$3; files='$files'; names='$names'; colors='$colors'$refs" \
                "$srcdir/bench/plot.gp" 2>"$raw/gnuplot.err"; then
            charts="$charts perf-$1-$4.png"
        else
            echo "run-bench.sh: gnuplot failed: $(head -n 3 "$raw/gnuplot.err")" >&2
        fi
    }
    if has "$SCENARIOS" burst; then
        chart burst "$BURST_CONTENDERS" 2 wall "First burst, headers after $BURST_DELAY ms: all done" "wall time (ms)" \
            "$(c1=$(col "$res/burst.csv" thread 1 wall_ms); is_num "$c1" && calc %.1f "$c1 * 1.1")" "target: 1.1x the library at N = 1"
        chart burst "$BURST_CONTENDERS" 3 memory "First burst, headers after $BURST_DELAY ms: peak memory" "peak RSS of the process (MiB)"
    fi
    if has "$SCENARIOS" streams; then
        chart streams "$STREAM_CONTENDERS" 2 wall "$CHUNKS chunks $DELAY ms apart: all done" "wall time (ms)" \
            "$(s1=$(med streams thread 1 single_p50); is_num "$s1" && calc %.1f "$s1 * 2")" "target: 2x a single request"
        chart streams "$STREAM_CONTENDERS" 3 memory "$CHUNKS chunks $DELAY ms apart: peak memory" "peak RSS of the process (MiB)"
    fi
fi

# --- the report ---------------------------------------------------------------
verdict() { if awk "BEGIN { exit !($1) }"; then echo MET; else echo MISSED; fi; }
fmt() { if is_num "$2"; then calc "$1" "$2"; else echo "${2:--}"; fi; }

targets=$res/targets.md
: >"$targets"
target() {   # target NO TEXT MEASURED RESULT CONTEXT (target 6 is printed last)
    if [ "$1" = 6 ]; then
        echo "| $1 | $2 | $3 | $4 | $5 |"
    else
        echo "| $1 | $2 | $3 | $4 | $5 |" >>"$targets"
    fi
}
target6=

table() {   # table SCEN CONTENDERS NS RATIO-HEADER
    echo "| contender | N | runs | ok | all done (ms) | $4 | client CPU (ms) | peak RSS (MiB) | RSS / request (KiB) | threads | latency p50 / p99 (ms) | mock CPU (ms) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for c in $2; do
        for n in $3; do
            f=$res/$1.csv
            note=$(col "$f" "$c" "$n" note)
            if [ -n "$note" ]; then
                echo "| $(label "$c") | $n | $(col "$f" "$c" "$n" runs) | $(col "$f" "$c" "$n" ok_min)/$n | $note | | | | | | | |"
                continue
            fi
            rp=$(col "$f" "$c" "$n" rss_peak_kib)
            echo "| $(label "$c") | $n | $(col "$f" "$c" "$n" runs) | $(col "$f" "$c" "$n" ok_min)/$n | $(fmt %.0f "$(col "$f" "$c" "$n" wall_ms)") | $(fmt %.2f "$(col "$f" "$c" "$n" ratio)") | $(fmt %.0f "$(col "$f" "$c" "$n" cpu_ms)") | $(fmt %.1f "$(is_num "$rp" && calc %.3f "$rp / 1024")") | $(fmt %.1f "$(col "$f" "$c" "$n" kib_per_req)") | $(col "$f" "$c" "$n" threads_max) | $(fmt %.0f "$(col "$f" "$c" "$n" lat_p50_ms)") / $(fmt %.0f "$(col "$f" "$c" "$n" lat_p99_ms)") | $(fmt %.0f "$(col "$f" "$c" "$n" server_cpu_ms)") |"
        done
    done
}

walls() {   # walls SCEN CONTENDERS NS: every run's wall time
    for c in $2; do
        for n in $3; do
            w=$(runs "$1" "$c" "$n" wall_ms)
            [ -n "$w" ] && echo "- $(label "$c"), N = $n: $w"
        done
    done
    return 0
}

section=$res/sections.md
: >"$section"

if has "$SCENARIOS" burst; then
    f=$res/burst.csv
    for n in $BURST_N; do
        [ "$n" = 1 ] && continue
        r=$(col "$f" thread "$n" ratio)
        ctx="bare libcurl $(fmt %.2f "$(col "$f" curl "$n" ratio)")x, Node SDK $(fmt %.2f "$(col "$f" node "$n" ratio)")x; client CPU $(fmt %.0f "$(col "$f" thread "$n" cpu_ms)") ms (bare libcurl $(fmt %.0f "$(col "$f" curl "$n" cpu_ms)") ms), mock CPU $(fmt %.0f "$(col "$f" thread "$n" server_cpu_ms)") ms"
        if is_num "$r"; then
            target 1 "first burst of $n on a fresh core, headers after $BURST_DELAY ms: wall within 1.1x of N = 1" \
                "$(fmt %.0f "$(col "$f" thread "$n" wall_ms)") ms = $(fmt %.2f "$r")x of $(fmt %.0f "$(col "$f" thread 1 wall_ms)") ms" \
                "$(verdict "$r <= 1.1")" "$ctx"
        else
            target 1 "first burst of $n: wall within 1.1x of N = 1" "$(col "$f" thread "$n" note)" MISSED "$ctx"
        fi
    done
    {
        echo "## 1. The first burst on a fresh client"
        echo
        echo "The mock server holds every response's headers for $BURST_DELAY ms, then"
        echo "sends a $REPLY_BYTES-byte reply in 20 SSE chunks at once.  Each run is a fresh"
        echo "process whose first act is N requests at once (no warm-up, no connection"
        echo "open yet).  \"x N = 1\" is the median all-done time over the median of the"
        echo "same contender's N = 1 runs.  Medians of $REPEAT run(s)."
        echo
        table burst "$BURST_CONTENDERS" "$BURST_N" "x N = 1"
        echo
        echo "All-done time of every run (ms):"
        echo
        walls burst "$BURST_CONTENDERS" "$BURST_N"
        echo
        for ch in wall memory; do
            case " $charts " in *" perf-burst-$ch.png "*) echo "![first burst: $ch against N](perf-burst-$ch.png)"; echo ;; esac
        done
    } >>"$section"
fi

if has "$SCENARIOS" streams; then
    f=$res/streams.csv
    nmax=$(echo "$STREAM_N" | tr ' ' '\n' | sort -n | tail -n 1)
    r=$(col "$f" thread "$nmax" ratio)
    ctx="bare libcurl $(fmt %.2f "$(col "$f" curl "$nmax" ratio)")x; client CPU $(fmt %.0f "$(col "$f" thread "$nmax" cpu_ms)") ms (bare libcurl $(fmt %.0f "$(col "$f" curl "$nmax" cpu_ms)") ms), mock CPU $(fmt %.0f "$(col "$f" thread "$nmax" server_cpu_ms)") ms, $cores cores"
    if is_num "$r"; then
        target 2 "$nmax concurrent streams ($CHUNKS x $DELAY ms): all done within 2x of a single request" \
            "$(fmt %.0f "$(col "$f" thread "$nmax" wall_ms)") ms = $(fmt %.2f "$r")x of $(fmt %.0f "$(col "$f" thread "$nmax" single_ms)") ms" \
            "$(verdict "$r <= 2")" "$ctx"
    else
        target 2 "$nmax concurrent streams: all done within 2x of a single request" "$(col "$f" thread "$nmax" note)" MISSED "$ctx"
    fi
    k=$(col "$f" thread "$nmax" kib_per_req)
    if is_num "$k"; then
        target 2 "memory per in-flight request at N = $nmax under 32 KiB (peak RSS - RSS before) / N" \
            "$(fmt %.1f "$k") KiB" "$(verdict "$k < 32")" "bare libcurl $(fmt %.1f "$(col "$f" curl "$nmax" kib_per_req)") KiB"
    fi
    # Node SDK against the library at N = 1000.
    if has "$STREAM_N" 1000; then
        lc=$(col "$f" thread 1000 cpu_ms) nc=$(col "$f" node 1000 cpu_ms)
        lm=$(col "$f" thread 1000 kib_per_req) nm=$(col "$f" node 1000 kib_per_req)
        lp=$(col "$f" thread 1000 rss_peak_kib) np=$(col "$f" node 1000 rss_peak_kib)
        if is_num "$lc" && is_num "$nc"; then
            target 3 "CPU at N = 1000 ($CHUNKS x $DELAY ms): at least 5x less than the Node SDK" \
                "$(fmt %.0f "$lc") ms vs $(fmt %.0f "$nc") ms: $(calc %.1f "$nc / $lc")x less" \
                "$(verdict "$nc / $lc >= 5")" "bare libcurl $(fmt %.0f "$(col "$f" curl 1000 cpu_ms)") ms"
        else
            target 3 "CPU at N = 1000: at least 5x less than the Node SDK" "${node_status:-$(col "$f" node 1000 note)}" "not run" ""
        fi
        if is_num "$lm" && is_num "$nm"; then
            target 3 "memory at N = 1000: at least 5x less than the Node SDK (peak RSS growth during the batch)" \
                "$(fmt %.0f "$(calc %.1f "$lm * 1000 / 1024")") MiB vs $(fmt %.0f "$(calc %.1f "$nm * 1000 / 1024")") MiB: $(calc %.1f "$nm / $lm")x less" \
                "$(verdict "$nm / $lm >= 5")" "whole process peak: $(calc %.0f "$lp / 1024") MiB vs $(calc %.0f "$np / 1024") MiB ($(calc %.1f "$np / $lp")x)"
        else
            target 3 "memory at N = 1000: at least 5x less than the Node SDK" "${node_status:-$(col "$f" node 1000 note)}" "not run" ""
        fi
        hw=$(col "$f" host 1000 wall_ms) tw=$(col "$f" thread 1000 wall_ms)
        if is_num "$hw" && is_num "$tw"; then
            target6=$(target 6 "host mode (poll loop) against thread mode at N = 1000 (no target: a comparison)" \
                "wall $(fmt %.0f "$hw") vs $(fmt %.0f "$tw") ms; CPU $(fmt %.0f "$(col "$f" host 1000 cpu_ms)") vs $(fmt %.0f "$(col "$f" thread 1000 cpu_ms)") ms; peak RSS $(calc %.1f "$(col "$f" host 1000 rss_peak_kib) / 1024") vs $(calc %.1f "$(col "$f" thread 1000 rss_peak_kib) / 1024") MiB" \
                "-" "threads $(col "$f" host 1000 threads_max) vs $(col "$f" thread 1000 threads_max)")
        fi
    fi
    all_c=$STREAM_CONTENDERS
    [ -n "$POOL_N" ] && all_c="$all_c pool"
    {
        echo "## 2. Concurrent streams"
        echo
        echo "Each request is answered with a $REPLY_BYTES-byte reply in $CHUNKS SSE chunks"
        echo "$DELAY ms apart (a single request: about $(( (CHUNKS - 1) * DELAY )) ms of server pacing,"
        echo "about $(( 1000 / DELAY )) events a second per stream, a typical token rate).  Each run"
        echo "first makes one warm-up request and $SINGLE single ones (their median is the"
        echo "\"single\" the ratio divides by), then N at once.  Medians of $REPEAT run(s)"
        if [ -n "$POOL_N" ]; then
            echo "(the thread-per-request design, a pool of cores + 4 threads each calling"
            echo "the blocking \`ac_generate\`: 1 run, as it takes minutes)."
        else
            echo "."
        fi
        echo
        table streams "$STREAM_CONTENDERS" "$STREAM_N" "x single"
        [ -n "$POOL_N" ] && table streams pool "$POOL_N" "x single" | tail -n +3
        echo
        echo "All-done time of every run (ms):"
        echo
        walls streams "$all_c" "$STREAM_N"
        echo
        for ch in wall memory; do
            case " $charts " in *" perf-streams-$ch.png "*) echo "![concurrent streams: $ch against N](perf-streams-$ch.png)"; echo ;; esac
        done
    } >>"$section"
fi

# Section 3: the Node SDK against the library, figure by figure.
node_vs() {   # node_vs SCEN N LABEL
    nv_f=$res/$1.csv
    [ -f "$nv_f" ] || return 0
    is_num "$(col "$nv_f" node "$2" wall_ms)" && is_num "$(col "$nv_f" thread "$2" wall_ms)" || return 0
    for nv_k in wall_ms cpu_ms growth rss_peak_kib; do
        case $nv_k in
        growth)
            nv_l=$(calc %.1f "$(col "$nv_f" thread "$2" kib_per_req) * $2 / 1024")
            nv_n=$(calc %.1f "$(col "$nv_f" node "$2" kib_per_req) * $2 / 1024")
            nv_what="peak RSS growth during the batch (MiB)" ;;
        rss_peak_kib)
            nv_l=$(calc %.1f "$(col "$nv_f" thread "$2" rss_peak_kib) / 1024")
            nv_n=$(calc %.1f "$(col "$nv_f" node "$2" rss_peak_kib) / 1024")
            nv_what="peak RSS of the process (MiB)" ;;
        wall_ms)
            nv_l=$(calc %.0f "$(col "$nv_f" thread "$2" wall_ms)")
            nv_n=$(calc %.0f "$(col "$nv_f" node "$2" wall_ms)")
            nv_what="all done (ms)" ;;
        cpu_ms)
            nv_l=$(calc %.0f "$(col "$nv_f" thread "$2" cpu_ms)")
            nv_n=$(calc %.0f "$(col "$nv_f" node "$2" cpu_ms)")
            nv_what="CPU time (ms)" ;;
        esac
        echo "| $3 | $nv_what | $nv_l | $nv_n | $(awk -v a="$nv_l" -v b="$nv_n" 'BEGIN { if (a > 0) printf "%.1fx", b / a; else print "-" }') |"
    done
    return 0
}
if has "$STREAM_CONTENDERS $BURST_CONTENDERS" node; then
    {
        echo "## 3. The openai Node.js SDK against the library"
        echo
        if [ -n "$node_status" ]; then
            echo "The Node SDK was $node_status."
        else
            echo "The official \`openai\` package $sdk_ver on Node.js $node_ver, installed with npm"
            echo "into the build tree, driven by \`bench/bench_openai.mjs\`; the library in"
            echo "thread mode with its defaults.  Figures from the tables above (medians)."
            echo
            echo "| scenario | figure | library | Node SDK | Node / library |"
            echo "|---|---|---|---|---|"
            for nv_n in $BURST_N; do
                [ "$nv_n" = 1 ] || node_vs burst "$nv_n" "first burst, N = $nv_n"
            done
            for nv_n in $STREAM_N; do
                [ "$nv_n" = 1 ] || node_vs streams "$nv_n" "streams, N = $nv_n"
            done
        fi
        echo
    } >>"$section"
fi

if has "$SCENARIOS" sse; then
    f=$res/sse.csv
    for p in openai anthropic; do
        v=$(awk -F, -v p="$p" '$1 == p { print $9 }' "$f")
        w=$(awk -F, -v p="$p" '$1 == p { print $8 }' "$f")
        if is_num "$v"; then
            target 4 "SSE decoding, $p streams, one core: 100 MB/s" "$(fmt %.0f "$v") MB/s of CPU time ($(fmt %.0f "$w") MB/s wall)" \
                "$(verdict "$v >= 100")" ""
        else
            target 4 "SSE decoding, $p streams: 100 MB/s" "bench_sse failed (bench/results/raw/sse.err)" MISSED ""
        fi
    done
    {
        echo "## 4. SSE decoding throughput"
        echo
        echo "Every recorded stream of tests/fixtures (\`openai_chat_stream_*.sse\`,"
        echo "\`anthropic_stream_*.sse\`) with delta events, grown in memory: its events up to"
        echo "its longest run of delta events (text, refusal, tool-call argument"
        echo "fragments), that run repeated, then its closing events, about $SSE_MB MB per"
        echo "provider in all.  Fed in $SSE_PIECE-byte pieces through \`ac__replay_bytes\`:"
        echo "the decoder, SSE framing, the plugin's parser (loaded from the build tree),"
        echo "the sink building the response, and an \`on_event\` callback; one thread."
        echo "MB = 10^6 bytes; median of $REPEAT passes."
        echo
        echo "| provider | fixtures | bytes | MB/s (CPU time) | MB/s (wall) | wall per pass (ms) |"
        echo "|---|---|---|---|---|---|"
        for p in openai anthropic; do
            awk -F, -v p="$p" '$1 == p { gsub(/"/, "", $10); printf "| %s | %s | %s | %s | %s | %s |\n", $1, $4, $3, $9, $8, $10 }' "$f"
        done
        echo
        echo "Fixtures used (bytes after growing, times the delta run was repeated):"
        echo
        sed -n 's/^\(openai\|anthropic\)_fixture=/- /p' "$raw/sse.out"
        sed -n 's/^\(openai\|anthropic\)_skipped=\(.*\)/- \2: skipped, no delta events/p' "$raw/sse.out"
        echo
    } >>"$section"
fi

if has "$SCENARIOS" startup; then
    f=$res/startup.csv
    av=$(awk -F, 'NR == 2 { print $4 }' "$f")
    co=$(awk -F, 'NR == 3 { print $4 }' "$f")
    nop=$(awk -F, 'NR == 4 { print $4 }' "$f")
    if is_num "$av"; then
        target 5 "\`acore --version\`: 5 ms" "$(fmt %.2f "$av") ms (median of $STARTUP_RUNS)" "$(verdict "$av <= 5")" \
            "an empty program linked with libcurl: $(fmt %.2f "$nop") ms; shared libraries loaded: acore $(ldd "$acore" 2>/dev/null | grep -c '=>'), that program $(ldd "$builddir/bench/bench_nop" 2>/dev/null | grep -c '=>')"
    fi
    if is_num "$co"; then
        target 5 "ac_core_open + ac_core_close with six plugins: 10 ms" "$(fmt %.2f "$co") ms (median of $STARTUP_RUNS)" "$(verdict "$co <= 10")" ""
    else
        target 5 "ac_core_open + ac_core_close with six plugins: 10 ms" "bench_startup failed (bench/results/raw/core-open.err)" MISSED ""
    fi
    {
        echo "## 5. Start-up"
        echo
        echo "| what | runs | method | median (ms) | min (ms) | mean (ms) |"
        echo "|---|---|---|---|---|---|"
        tail -n +2 "$f" | awk -F, '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
        echo
        echo "\`acore\` is the real binary (\`cli/.libs/acore\` with the build tree's"
        echo "library on \`LD_LIBRARY_PATH\`), not libtool's wrapper script.  The core"
        echo "opens with a config listing the six plugin folders of the build tree and"
        echo "one provider of each (dummy keys; nothing is contacted): read the config,"
        echo "dlopen and check six plugins, start and join the engine thread."
        echo
    } >>"$section"
fi

if has "$SCENARIOS" streams && has "$STREAM_N" 1000; then
    {
        echo "## 6. Host mode against thread mode"
        echo
        echo "The same N = 1000 streams ($CHUNKS x $DELAY ms) from the table of section 2:"
        echo "thread mode (the engine thread, the caller waits in \`ac_gather\`) and host"
        echo "mode (\`engine.mode = \"host\"\`, no engine thread, a plain \`poll()\` loop on"
        echo "\`ac_core_backend_fd\` / \`ac_core_backend_timeout\` calling \`ac_core_run_once\`)."
        echo
        table streams "thread host" 1000 "x single"
        echo
    } >>"$section"
fi

[ -n "$target6" ] && echo "$target6" >>"$targets"

{
    cat <<EOF
# Performance

Measured by \`make bench\` on $date_start, $cores cores (${cpu_model:-unknown CPU}),
$(uname -sr), $curlver, ${node_ver:+Node.js $node_ver, }${sdk_ver:+openai SDK $sdk_ver, }load average
$load_start at the start (every run's load average is kept in
bench/results/raw/).  The mock server (\`acore-mockd\`, one event thread, its
own process, started afresh for every run) and the client share these cores.
Open files: soft $nofile_soft, hard $nofile_hard; \`net.core.somaxconn\` = $somaxconn (the
mock's listen backlog is clamped to it: a burst of more connects than that can
see a SYN retransmitted a second later).

## Targets

| # | target | measured | result | context |
|---|---|---|---|---|
EOF
    cat "$targets"
    echo
    cat "$section"
    cat <<EOF
## Method

- Every contender runs in its own process: CPU time is getrusage (C) or
  \`process.cpuUsage()\` (Node) over the batch, every thread included; peak
  memory is VmHWM of /proc/self/status, reset through /proc/self/clear_refs
  just before the batch ("RSS / request" = (peak - RSS before) / N); threads
  are sampled from /proc/self/task every 50 ms.
- "All done" runs from the first request started to the last one finished.
  A run in which any request failed is left out of the medians (the "ok"
  column shows the worst run).
- Contenders: the library with its defaults (no connection cap; over
  plain HTTP no PIPEWAIT), through \`ac_agenerate\` + \`ac_gather\`; the same in
  host mode; bare libcurl (\`bench/bench_curl.c\`: the same POST and SSE body
  read to its end, nothing parsed, libcurl's socket API over epoll as the
  engine drives it, HTTP/1.1, no connection cap, no PIPEWAIT over plain
  HTTP); the official \`openai\` Node.js SDK (\`bench/bench_openai.mjs\`:
  \`client.chat.completions.create({stream: true})\` for every request with
  \`Promise.all\`, each stream read to its end, \`maxRetries: 0\`, otherwise
  the SDK's defaults).

## How to reproduce

    ./configure && make && make bench

Knobs (environment or make command line), e.g.
\`make bench BENCH_REPEAT=1 BENCH_STREAM_N="1 1000" BENCH_POOL_N= BENCH_NODE=no\`:
\`BENCH_REPEAT\` ($REPEAT), \`BENCH_SCENARIOS\` ("burst streams sse startup"),
\`BENCH_BURST_N\` ("1 50 1000"), \`BENCH_BURST_DELAY_MS\` (1000),
\`BENCH_STREAM_N\` ("1 1000 5000 10000"), \`BENCH_STREAM\` ("20x50": chunks x ms),
\`BENCH_SINGLE\` (3), \`BENCH_POOL_N\` ("1000"; empty skips it),
\`BENCH_SSE_MB\` (64), \`BENCH_SSE_PIECE\` (16384), \`BENCH_STARTUP_RUNS\` (100),
\`BENCH_NODE\` (auto / no), \`BENCH_OPENAI_VERSION\` (6.49.0), and the
\`BENCH_*_CONTENDERS\` lists (see bench/run-bench.sh);
\`BENCH_REPORT_ONLY=1\` rebuilds the CSV files, charts and this file from
the raw results of the last run.  The Node SDK is
installed once with npm into the build tree (\`bench/node/\`); 6.49.0 is
the newest \`openai\` release that runs on Node 20 (7.x needs Node 22).
Optional tools: \`node\` and \`npm\`, \`gnuplot\` (Debian's gnuplot-nox), \`hyperfine\`
(Debian's; without it a fork/exec loop times \`acore --version\`).  Results:
\`bench/results/*.csv\` (one per scenario), every run's key=value output
and latencies in \`bench/results/raw/\`, charts \`bench/perf-*.png\`
(gnuplot), and this file, \`bench/performance.md\`.
EOF
} >"$OUT"

echo
cat "$targets"
echo "written: $OUT, $res/*.csv${charts:+, charts:$charts}"
