#!/bin/sh
# run-bench.sh -- `make bench`: run the three designs side by side against
# one mock server and write the results table.
#
#   run-bench.sh BUILDDIR
#
# Starts sdk/mock/acore-mockd as its own process (so the clients' CPU is
# measured alone), then runs, one process each:
#   curl   bench/bench_curl           bare libcurl multi, the CPU floor
#   async  bench/bench_client async   1,000 requests via ac_agenerate + ac_gather
#   pool   bench/bench_client pool    (cores + 4) threads calling ac_generate
# and writes BUILDDIR/bench/performance.md (the same layout as
# docs/performance.md), plus a latency plot when gnuplot is installed.
#
# Knobs (environment): BENCH_N (1000), BENCH_CHUNKS (20),
# BENCH_DELAY_MS (5), BENCH_SINGLE (5), BENCH_REPLY_BYTES (400),
# BENCH_OUT (BUILDDIR/bench/performance.md).
set -eu

builddir=${1:?usage: run-bench.sh BUILDDIR}
builddir=$(cd "$builddir" && pwd)
N=${BENCH_N:-1000}
CHUNKS=${BENCH_CHUNKS:-20}
DELAY=${BENCH_DELAY_MS:-5}
SINGLE=${BENCH_SINGLE:-5}
REPLY_BYTES=${BENCH_REPLY_BYTES:-400}
OUT=${BENCH_OUT:-$builddir/bench/performance.md}
work=$builddir/bench/results
mkdir -p "$work"
rm -f "$work"/*.out "$work"/*.lat "$work"/*.err

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

# A reply of REPLY_BYTES bytes in CHUNKS chunks, DELAY ms apart.
script=$work/scenario.cfg
cat >"$script" <<EOF
# bench scenario: every request gets the same streamed reply
reply_len = $REPLY_BYTES;
chunks = $CHUNKS;
delay_ms = $DELAY;
usage = [ 12, $CHUNKS ];
EOF

mockpid=
cleanup() {
    if [ -n "$mockpid" ]; then
        kill "$mockpid" 2>/dev/null || true
        wait "$mockpid" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

"$mockd" --port 0 "$script" >"$work/mockd.out" 2>"$work/mockd.err" &
mockpid=$!
url=
i=0
while [ $i -lt 100 ]; do
    url=$(sed -n 's/^acore-mockd listening on \(http:[^ ]*\).*/\1/p' "$work/mockd.out" | head -n 1)
    [ -n "$url" ] && break
    kill -0 "$mockpid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$url" ]; then
    echo "run-bench.sh: acore-mockd did not start:" >&2
    cat "$work/mockd.err" >&2
    exit 1
fi
echo "mock server: $url (pid $mockpid), $N requests, $CHUNKS chunks, $DELAY ms apart"

# CPU time (ms) the mock server has used so far.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) * 1000 / hz }' \
        "/proc/$mockpid/stat"
}

run() {   # run NAME CMD...
    name=$1
    shift
    echo "running $name ..."
    s0=$(server_cpu)
    if ! "$@" --latencies "$work/$name.lat" >"$work/$name.out" 2>"$work/$name.err"; then
        echo "run-bench.sh: $name reported failures:" >&2
        head -n 5 "$work/$name.err" >&2
    fi
    s1=$(server_cpu)
    echo "server_cpu_ms=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.0f", b - a }')" \
        >>"$work/$name.out"
}

run curl "$bare" --url "$url" -n "$N" --single "$SINGLE"
run async "$client" --mode async --url "$url" --plugin-dir "$plugindir" -n "$N" --single "$SINGLE"
run pool "$client" --mode pool --url "$url" --plugin-dir "$plugindir" -n "$N" --single "$SINGLE"

cleanup
mockpid=
trap - EXIT INT TERM

get() { sed -n "s/^$2=//p" "$work/$1.out" | head -n 1; }
num() { v=$(get "$1" "$2"); echo "${v:-0}"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
verdict() { awk "BEGIN { print (($1) ? \"PASS\" : \"FAIL\") }"; }

for m in curl async pool; do
    [ -n "$(get $m ok)" ] || { echo "run-bench.sh: $m produced no results" >&2; cat "$work/$m.err" >&2; exit 1; }
done

row() {   # row MODE LABEL
    m=$1
    printf '| %s | %s/%s | %s | %s | %s | %s / %s | %s | %s | %s | %s -> %s | %s |\n' \
        "$2" "$(get $m ok)" "$(get $m n)" "$(calc %.0f "$(num $m single_p50)")" \
        "$(calc %.0f "$(num $m wall_ms)")" "$(calc %.2f "$(num $m ratio_wall)")" \
        "$(calc %.0f "$(num $m lat_p50)")" "$(calc %.0f "$(num $m lat_p99)")" \
        "$(calc %.3f "$(num $m cpu_per_req_ms)")" \
        "$(calc %.2f "$(num $m cpu_per_req_ms) / $(num curl cpu_per_req_ms)")" \
        "$(calc %.1f "$(num $m kib_per_req)")" \
        "$(get $m threads_before)" "$(get $m threads_max)" \
        "$(calc %.0f "$(num $m server_cpu_ms)")"
}

cores=$(getconf _NPROCESSORS_ONLN)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
curlver=$(curl-config --version 2>/dev/null || echo "libcurl (version unknown)")

a_ratio=$(num async ratio_wall)
a_kib=$(num async kib_per_req)
a_t0=$(num async threads_before)
a_t1=$(num async threads_max)
a_cpu=$(calc %.2f "$(num async cpu_per_req_ms) / $(num curl cpu_per_req_ms)")

table=$work/table.md
{
    echo "| design | ok | single (ms) | all done (ms) | all done / single | latency p50 / p99 (ms) | client CPU / request (ms) | CPU vs bare libcurl | peak RSS / request (KiB) | threads before -> during | mock server CPU (ms) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    row async "library, async (ac_agenerate + ac_gather)"
    row pool "library, thread per request ($(get pool pool_threads) threads, ac_generate)"
    row curl "bare libcurl multi (floor)"
} >"$table"

targets=$work/targets.md
{
    echo "| target | measured | result |"
    echo "|---|---|---|"
    echo "| $N concurrent streams finish within 1.5x a single one | $(calc %.2f "$a_ratio")x | $(verdict "$a_ratio <= 1.5") |"
    echo "| peak memory < 64 KiB per in-flight request | $(calc %.1f "$a_kib") KiB | $(verdict "$a_kib < 64") |"
    echo "| no thread per request | $a_t0 -> $a_t1 threads | $(verdict "$a_t1 - $a_t0 <= 1") |"
    echo "| CPU per request within 1.5x of bare libcurl | $a_cpu x | $(verdict "$a_cpu <= 1.5") |"
} >"$targets"

plot_md=
if command -v gnuplot >/dev/null 2>&1; then
    gp="set xlabel 'latency (ms)'; set ylabel 'fraction of requests done'; set key bottom right;"
    gp="$gp plot '$work/async.lat' using 1:(\$0/$N) with lines title 'async',"
    gp="$gp '$work/pool.lat' using 1:(\$0/$N) with lines title 'thread pool',"
    gp="$gp '$work/curl.lat' using 1:(\$0/$N) with lines title 'bare libcurl'"
    if gnuplot -e "set terminal png size 900,500; set output '$builddir/bench/performance.png'; $gp" 2>/dev/null; then
        echo "plot: $builddir/bench/performance.png"
    fi
    gnuplot -e "set terminal dumb 100 30; set output '$work/plot.txt'; $gp" 2>/dev/null &&
        plot_md=$work/plot.txt
fi

{
    cat <<EOF
# Performance

Measured by \`make bench\` on $(date -u +%Y-%m-%d) (UTC).
Machine: $cores cores ($cpu_model), $(uname -sr), $curlver.

## What is measured

$N streaming chat requests to the OpenAI-compatible mock server
(\`acore-mockd\`, run as its own process on 127.0.0.1), each answered with
$CHUNKS SSE chunks ($REPLY_BYTES bytes of text) sent $DELAY ms apart, so a
single request takes about $((CHUNKS * DELAY)) ms.  Each design runs in its
own process; its CPU time (getrusage), peak memory (VmHWM, reset just
before the batch) and thread count (/proc/self/task, sampled during the
batch) are its own.  Every design first times $SINGLE requests one after
another ("single"); "all done" is the time from the first request started
to the last one finished.

- **library, async**: every request at once through \`ac_agenerate\` with
  callbacks, then \`ac_gather\`: one engine thread, one libcurl multi handle.
- **library, thread per request**: the design being replaced: a pool of
  cores + 4 threads, each calling the blocking \`ac_generate\` (streaming)
  for the next request.  Latency counts the time a request waits for a
  free thread.
- **bare libcurl multi**: the same HTTP (POST of the same JSON body, SSE
  body read to its end, no framing or JSON parsing) on one multi handle;
  the floor for CPU per request.

## Results

EOF
    cat "$table"
    echo
    echo "## Targets (ARCHITECTURE.md, Performance)"
    echo
    cat "$targets"
    echo
    if [ -n "$plot_md" ]; then
        echo "## Latency distribution"
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
\`sdk/mock/acore-mockd\` and the openai plugin, runs
\`bench/run-bench.sh\`, prints the tables and writes them to
\`bench/performance.md\` in the build tree (copy it here to update this
page).  Raw key=value results and per-request latencies are kept in
\`bench/results/\`.  The scenario can be changed with BENCH_N,
BENCH_CHUNKS, BENCH_DELAY_MS, BENCH_REPLY_BYTES and BENCH_SINGLE, e.g.
\`make bench BENCH_N=200\`.  With gnuplot installed a plot is written to
\`bench/performance.png\` and a text plot is included above.
EOF
} >"$OUT"

echo
cat "$table"
echo
cat "$targets"
echo
echo "written: $OUT"
