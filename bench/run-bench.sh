#!/bin/sh
# run-bench.sh -- `make bench`: run the three designs side by side against
# the mock server and write the results tables.
#
#   run-bench.sh BUILDDIR
#
# For each scenario (CHUNKSxDELAY_MS) it starts sdk/mock/acore-mockd as its
# own process (so a client's CPU is measured alone, and the server's is
# reported beside it), then runs, one process each:
#   curl   bench/bench_curl           bare libcurl multi, the CPU floor
#   async  bench/bench_client async   N requests via ac_agenerate + ac_gather
#   pool   bench/bench_client pool    (cores + 4) threads calling ac_generate
# curl and async run BENCH_REPEAT times; the run with the median "all done"
# time is reported (the machine is shared, single runs are noisy).
# Writes BUILDDIR/bench/performance.md (the layout of docs/performance.md)
# and, when gnuplot is installed, a latency plot.
#
# Knobs (environment; empty means the default):
#   BENCH_N (1000)  BENCH_SINGLE (5)  BENCH_REPEAT (3)  BENCH_REPLY_BYTES (400)
#   BENCH_SCENARIOS ("20x5 20x50": chunks x ms between chunks)
#   BENCH_POOL_SCENARIOS ("20x5": where the slow thread-pool design runs)
#   BENCH_OUT (BUILDDIR/bench/performance.md)
set -eu

builddir=${1:?usage: run-bench.sh BUILDDIR}
builddir=$(cd "$builddir" && pwd)
N=${BENCH_N:-1000}
SINGLE=${BENCH_SINGLE:-5}
REPEAT=${BENCH_REPEAT:-3}
REPLY_BYTES=${BENCH_REPLY_BYTES:-400}
SCENARIOS=${BENCH_SCENARIOS:-20x5 20x50}
POOL_SCENARIOS=${BENCH_POOL_SCENARIOS-20x5}
OUT=${BENCH_OUT:-$builddir/bench/performance.md}
work=$builddir/bench/results
mkdir -p "$work"
rm -f "$work"/*

mockd=$builddir/sdk/mock/acore-mockd
client=$builddir/bench/bench_client
bare=$builddir/bench/bench_curl
plugindir=$builddir/plugins/openai/.libs
for f in "$mockd" "$client" "$bare"; do
    [ -x "$f" ] || { echo "run-bench.sh: $f is not built" >&2; exit 1; }
done
[ -d "$plugindir" ] || { echo "run-bench.sh: no $plugindir (build plugins/openai/openai.la)" >&2; exit 1; }

# 1,000 sockets on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

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

start_mock() {   # start_mock CHUNKS DELAY -> sets url, mockpid
    cat >"$work/scenario.cfg" <<EOF
# bench scenario: every request gets the same streamed reply
reply_len = $REPLY_BYTES;
chunks = $1;
delay_ms = $2;
usage = [ 12, $1 ];
EOF
    "$mockd" --quiet --port 0 "$work/scenario.cfg" >"$work/mockd.out" 2>"$work/mockd.err" &
    mockpid=$!
    url=
    i=0
    while [ $i -lt 100 ]; do
        url=$(sed -n 's/^acore-mockd listening on \(http:[^ ]*\).*/\1/p' "$work/mockd.out" | head -n 1)
        [ -n "$url" ] && return 0
        kill -0 "$mockpid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "run-bench.sh: acore-mockd did not start:" >&2
    cat "$work/mockd.err" >&2
    exit 1
}

# CPU time (ms) the mock server has used so far.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000 / hz }' \
        "/proc/$mockpid/stat"
}

get() { sed -n "s/^$2=//p" "$1" | head -n 1; }

run_once() {   # run_once OUTBASE CMD...
    base=$1
    shift
    s0=$(server_cpu)
    if ! "$@" --latencies "$base.lat" >"$base.out" 2>"$base.err"; then
        echo "run-bench.sh: $(basename "$base") reported failures:" >&2
        head -n 5 "$base.err" >&2
    fi
    s1=$(server_cpu)
    echo "server_cpu_ms=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.0f", b - a }')" >>"$base.out"
}

run() {   # run TAG REPEATS CMD...  -> $work/TAG.out, TAG.lat (median run)
    tag=$1
    reps=$2
    shift 2
    k=1
    while [ $k -le "$reps" ]; do
        echo "  $tag, run $k of $reps"
        run_once "$work/$tag.run$k" "$@"
        k=$((k + 1))
    done
    # The run with the median all-done time stands for the design.
    pick=$(for f in "$work/$tag".run*.out; do echo "$(get "$f" wall_ms) ${f%.out}"; done |
           sort -n | awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }')
    cp "$pick.out" "$work/$tag.out"
    cp "$pick.lat" "$work/$tag.lat" 2>/dev/null || : >"$work/$tag.lat"
    for f in "$work/$tag".run*.out; do get "$f" ratio_wall; done | sort -n | tr '\n' ' ' |
        awk '{ $1 = $1; gsub(/ /, ", "); printf "ratio_runs=%s\n", $0 }' >>"$work/$tag.out"
    # CPU is compared run for run too: its own median, not the median
    # run's.
    for f in "$work/$tag".run*.out; do get "$f" cpu_per_req_ms; done | sort -n |
        awk '{ v[NR] = $1 } END { printf "cpu_median_ms=%s\n", v[int((NR + 1) / 2)] }' \
        >>"$work/$tag.out"
}

num() { v=$(get "$work/$1.out" "$2"); echo "${v:-0}"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
verdict() { awk "BEGIN { print (($1) ? \"PASS\" : \"FAIL\") }"; }

row() {   # row TAG LABEL FLOORTAG
    t=$1
    printf '| %s | %s/%s | %s | %s | %s | %s / %s | %s | %s | %s | %s -> %s | %s |\n' \
        "$2" "$(get "$work/$t.out" ok)" "$(get "$work/$t.out" n)" \
        "$(calc %.0f "$(num "$t" single_p50)")" \
        "$(calc %.0f "$(num "$t" wall_ms)")" "$(calc %.2f "$(num "$t" ratio_wall)")" \
        "$(calc %.0f "$(num "$t" lat_p50)")" "$(calc %.0f "$(num "$t" lat_p99)")" \
        "$(calc %.3f "$(num "$t" cpu_median_ms)")" \
        "$(calc %.2f "$(num "$t" cpu_median_ms) / $(num "$3" cpu_median_ms)")" \
        "$(calc %.1f "$(num "$t" kib_per_req)")" \
        "$(get "$work/$t.out" threads_before)" "$(get "$work/$t.out" threads_max)" \
        "$(calc %.0f "$(num "$t" server_cpu_ms)")"
}

report=$work/report.md
: >"$report"
for sc in $SCENARIOS; do
    chunks=${sc%x*}
    delay=${sc#*x}
    start_mock "$chunks" "$delay"
    echo "scenario $sc: $N requests, $chunks chunks $delay ms apart; mock server $url (pid $mockpid)"
    run "curl-$sc" "$REPEAT" "$bare" --url "$url" -n "$N" --single "$SINGLE"
    run "async-$sc" "$REPEAT" "$client" --mode async --url "$url" --plugin-dir "$plugindir" \
        -n "$N" --single "$SINGLE"
    with_pool=0
    for p in $POOL_SCENARIOS; do [ "$p" = "$sc" ] && with_pool=1; done
    if [ $with_pool = 1 ]; then
        run "pool-$sc" 1 "$client" --mode pool --url "$url" --plugin-dir "$plugindir" \
            -n "$N" --single "$SINGLE"
    fi
    stop_mock
    for t in curl async; do
        [ -n "$(get "$work/$t-$sc.out" ok)" ] ||
            { echo "run-bench.sh: $t produced no results" >&2; cat "$work/$t-$sc.run1.err" >&2; exit 1; }
    done

    a=async-$sc
    a_ratio=$(num "$a" ratio_wall)
    c_ratio=$(num "curl-$sc" ratio_wall)
    a_kib=$(num "$a" kib_per_req)
    a_t0=$(num "$a" threads_before)
    a_t1=$(num "$a" threads_max)
    a_cpu=$(calc %.2f "$(num "$a" cpu_median_ms) / $(num "curl-$sc" cpu_median_ms)")
    {
        echo "### $chunks chunks, $delay ms apart (a single request: about $(( (chunks - 1) * delay )) ms of server pacing)"
        echo
        echo "| design | ok | single (ms) | all done (ms) | all done / single | latency p50 / p99 (ms) | client CPU / request (ms) | CPU vs bare libcurl | peak RSS / request (KiB) | threads before -> during | mock server CPU (ms) |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|"
        row "$a" "library, async (ac_agenerate + ac_gather)" "curl-$sc"
        if [ $with_pool = 1 ]; then
            row "pool-$sc" "library, thread per request ($(get "$work/pool-$sc.out" pool_threads) threads, ac_generate)" "curl-$sc"
        fi
        row "curl-$sc" "bare libcurl multi (floor)" "curl-$sc"
        echo
        echo "All-done/single in each of the $REPEAT runs: async $(get "$work/$a.out" ratio_runs);" \
             "bare libcurl $(get "$work/curl-$sc.out" ratio_runs)."
        echo
        echo "| target | measured | result |"
        echo "|---|---|---|"
        echo "| $N concurrent streams finish within 1.5x a single one | $(calc %.2f "$a_ratio")x (bare libcurl on this machine: $(calc %.2f "$c_ratio")x) | $(verdict "$a_ratio <= 1.5") |"
        echo "| peak memory < 64 KiB per in-flight request | $(calc %.1f "$a_kib") KiB | $(verdict "$a_kib < 64") |"
        echo "| no thread per request | $a_t0 -> $a_t1 threads | $(verdict "$a_t1 - $a_t0 <= 1") |"
        echo "| CPU per request within 1.5x of bare libcurl | ${a_cpu}x | $(verdict "$a_cpu <= 1.5") |"
        echo
    } >>"$report"
done
trap - EXIT INT TERM

# A plot of the latency distributions of the first scenario.
plot_md=
first=${SCENARIOS%% *}
if command -v gnuplot >/dev/null 2>&1; then
    gp="set title 'latency of $N concurrent requests ($first)'; set xlabel 'latency (ms)';"
    gp="$gp set ylabel 'fraction of requests done'; set key bottom right;"
    gp="$gp plot '$work/async-$first.lat' using 1:(\$0/$N) with lines title 'async',"
    [ -s "$work/pool-$first.lat" ] &&
        gp="$gp '$work/pool-$first.lat' using 1:(\$0/$N) with lines title 'thread pool',"
    gp="$gp '$work/curl-$first.lat' using 1:(\$0/$N) with lines title 'bare libcurl'"
    if gnuplot -e "set terminal png size 900,500; set output '$builddir/bench/performance.png'; $gp" 2>/dev/null; then
        echo "plot: $builddir/bench/performance.png"
    fi
    gnuplot -e "set terminal dumb 100 30; set output '$work/plot.txt'; $gp" 2>/dev/null &&
        plot_md=$work/plot.txt
fi

cores=$(getconf _NPROCESSORS_ONLN)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
curlver=$(curl-config --version 2>/dev/null || echo "libcurl (version unknown)")
{
    cat <<EOF
# Performance

Measured by \`make bench\` on $(date -u +%Y-%m-%d) (UTC).
Machine: $cores cores (${cpu_model:-unknown CPU}), $(uname -sr), $curlver.
The mock server and the client share these cores.

## What is measured

$N streaming chat requests to the OpenAI-compatible mock server
(\`acore-mockd\`, its own process, on 127.0.0.1), each answered with a
$REPLY_BYTES-byte reply in SSE chunks sent a fixed time apart (the scenario
headings below).  Each design runs in its own process, so its CPU time
(getrusage), peak memory (VmHWM, reset just before the batch; per request =
(peak - RSS before) / $N) and threads (/proc/self/task, sampled during the
batch) are its own.  Each first times $SINGLE requests one after another:
"single" is their median.  "All done" runs from the first request started
to the last one finished.  The async and bare libcurl rows show the run
with the median "all done" time out of $REPEAT, and the median CPU time of
those runs.

- **library, async**: every request at once through \`ac_agenerate\` with
  callbacks, then \`ac_gather\`: one engine thread, one libcurl multi handle.
- **library, thread per request**: the design being replaced: a pool of
  cores + 4 threads, each calling the blocking \`ac_generate\` (streaming)
  for the next request.  A request's latency includes its wait for a free
  thread.
- **bare libcurl multi**: the same HTTP (POST of the same JSON body, the SSE
  body read to its end, no framing or JSON parsing) on one multi handle: the
  floor for CPU per request, and for latency on this machine.

How to read the tables: the mock server is one event thread, and its CPU
time for a batch (last column) is a lower bound on the batch's wall time.
When that approaches the per-request pacing, every client waits for the
server; the bare libcurl row shows how much of the all-done/single ratio
the machine and server alone account for.

## Results

EOF
    cat "$report"
    if [ -n "$plot_md" ]; then
        echo "## Latency distribution ($first)"
        echo
        echo '```'
        cat "$plot_md"
        echo '```'
        echo
    fi
    cat <<EOF
## How to reproduce

    ./configure && make && make bench

\`make bench\` builds \`bench/bench_client\`, \`bench/bench_curl\`,
\`sdk/mock/acore-mockd\` and the openai plugin, runs \`bench/run-bench.sh\`,
prints the tables and writes them to \`bench/performance.md\` in the build
tree (docs/performance.md is that file plus hand-written findings).
Raw key=value results and per-request latencies (one file per run) are
kept in \`bench/results/\`.  Knobs: \`make bench BENCH_N=200
BENCH_SCENARIOS="20x5 40x25" BENCH_POOL_SCENARIOS= BENCH_REPEAT=1\`
(see the top of bench/run-bench.sh).  With gnuplot installed a plot is
written to \`bench/performance.png\` and a text plot is included here.
EOF
} >"$OUT"

echo
cat "$report"
echo "written: $OUT"
