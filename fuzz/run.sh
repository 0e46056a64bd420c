#!/bin/sh
# run.sh SECONDS TARGET... -- run each fuzz target for SECONDS (run by
# `make fuzz` in the build folder, after fuzz/fuzz.mk and fuzz/seeds.sh).
#
# One target at a time, one process each (the machine may be shared):
# the corpus grows in fuzz/corpus/<target>/ from fuzz/out/seeds/<target>/;
# a crash, a leak, undefined behaviour, a broken check (fuzz_fail), an
# input slower than 10 s or a process over 2 GiB stops that target with
# the input in fuzz/crashes/<target>/.  Every target runs even after one
# failed; the exit status is 1 if any did.  Logs: fuzz/out/log/<target>.log.
set -u
secs=$1
shift
dictdir=$(cd "$(dirname "$0")" && pwd)/dict
[ "$secs" -gt 0 ] 2>/dev/null || { echo "run.sh: FUZZ_SECONDS must be a positive number" >&2; exit 2; }
mkdir -p fuzz/out/log
failed=""
for t in "$@"; do
    bin=fuzz/out/bin/$t
    [ -x "$bin" ] || { echo "run.sh: $bin is not built" >&2; exit 2; }
    mkdir -p "fuzz/corpus/$t" "fuzz/crashes/$t" "fuzz/out/seeds/$t"
    log=fuzz/out/log/$t.log
    case $t in
    config | framer | toolparse) dict=$t ;;
    *) dict=json ;;
    esac
    # The library's warnings (a fuzzed config prints many) would drown
    # libFuzzer's own lines: -close_fd_mask=2 keeps those, and the
    # sanitizers' reports, and drops the target's stderr.
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -dict="$dictdir/$dict.dict" -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="fuzz/crashes/$t/" \
        "fuzz/corpus/$t" "fuzz/out/seeds/$t" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*\(cov: [0-9]*\).*\(corp: [^ ]*\).*/\1 \2/p')
    if [ "$rc" -eq 0 ]; then
        echo "PASS $t: ${runs:-?} runs in ${secs} s, $cov"
    else
        echo "FAIL $t (exit $rc): see $log"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*check failed|.*runtime error)' "$log" | head -5
        for f in $(ls -t "fuzz/crashes/$t/" 2>/dev/null | head -3); do
            echo "  input: fuzz/crashes/$t/$f  (reproduce: $bin fuzz/crashes/$t/$f)"
        done
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "make fuzz: crashes in:$failed"
    exit 1
fi
exit 0
