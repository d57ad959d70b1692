#!/bin/sh
# scripts/fuzz.sh [SECONDS] — builds the libFuzzer targets (clang, ASan and
# UBSan on every library, tests/fuzz/README.md) in build-fuzz/ and runs each
# target for SECONDS (default 60) on its seed corpus, new inputs going to a
# scratch folder (build-fuzz/fuzz-corpus/NAME; the checked-in seeds are only
# read).  Prints one line per target with its executions and the result, and
# exits 1 when any target crashed, leaked or tripped a sanitizer (the
# reproducer is in build-fuzz/fuzz-artifacts/, the log beside it).
#   FUZZ_TARGETS="record engine" scripts/fuzz.sh 600   # a subset, longer
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
targets=${FUZZ_TARGETS:-"record engine config ctl classify"}
if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_lundef=false >build-fuzz.setup.log 2>&1 || {
        cat build-fuzz.setup.log
        exit 1
    }
    rm -f build-fuzz.setup.log
fi
ninja -C build-fuzz >/dev/null || { ninja -C build-fuzz; exit 1; }
mkdir -p build-fuzz/fuzz-artifacts
rc=0
for t in $targets; do
    exe=build-fuzz/tests/fuzz/fuzz-$t
    [ -x "$exe" ] || { echo "fuzz-$t: not built"; rc=1; continue; }
    mkdir -p "build-fuzz/fuzz-corpus/$t"
    log=build-fuzz/fuzz-artifacts/$t.log
    "$exe" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="build-fuzz/fuzz-artifacts/$t-" \
        "build-fuzz/fuzz-corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    frc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
    if [ "$frc" -eq 0 ]; then
        echo "fuzz-$t: ${execs:-?} executions in ${secs} s (${rate:-?}/s, $cov), 0 crashes"
    else
        rc=1
        echo "fuzz-$t: FAILED (exit $frc) after ${execs:-?} executions; see $log"
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5
    fi
done
exit "$rc"
