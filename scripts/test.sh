#!/bin/sh
# The whole test suite from a fresh Debian 12 machine: installs what is
# missing, builds a normal and a sanitizer (address,undefined) build, runs
# the unit, interop and end-to-end tests in both, builds the libFuzzer
# targets (clang) and runs each briefly on its seed corpus, and ends with one
# line `N passed, N failed` over every CUnit suite and fuzz smoke run.
# Interop and end-to-end tests need root (network namespaces).
set -u
cd "$(dirname "$0")/.."
./scripts/install-deps.sh || exit 1

# -Drequire_tests=true: a test whose dependency is missing stops the set-up
# with an error instead of being skipped silently.
if [ -f build/build.ninja ]; then
    meson setup --reconfigure build -Drequire_tests=true >/dev/null || exit 1
else
    meson setup build --buildtype=debugoptimized -Drequire_tests=true || exit 1
fi
ninja -C build || exit 1
if [ -f build-asan/build.ninja ]; then
    meson setup --reconfigure build-asan -Drequire_tests=true >/dev/null || exit 1
else
    meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
        -Drequire_tests=true || exit 1
fi
ninja -C build-asan || exit 1

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
meson test -C build-asan --suite unit --num-processes 2 --print-errorlogs \
    >build-asan/unit-tests.log 2>&1 || {
    echo "== sanitizer build: unit test failures (build-asan/unit-tests.log) =="
    tail -n 200 build-asan/unit-tests.log
}
# Fuzz targets, briefly (20000 runs each; scripts/fuzz.sh SECONDS for real
# runs).  Only the targets are built in build-fuzz.
if [ -f build-fuzz/build.ninja ]; then
    meson setup --reconfigure build-fuzz >/dev/null || exit 1
else
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_lundef=false >/dev/null || exit 1
fi
ninja -C build-fuzz tests/fuzz/fuzz-record tests/fuzz/fuzz-engine tests/fuzz/fuzz-config \
    tests/fuzz/fuzz-ctl tests/fuzz/fuzz-classify || exit 1
meson test -C build-fuzz --suite fuzz --num-processes 2 --no-rebuild --print-errorlogs \
    >build-fuzz/fuzz-tests.log 2>&1 || {
    echo "== fuzz smoke failures (build-fuzz/fuzz-tests.log) =="
    tail -n 100 build-fuzz/fuzz-tests.log
}
meson test -C build --num-processes 1 --print-errorlogs --no-rebuild >build/tests.log 2>&1
grep -E '^ *[0-9]+/[0-9]+ ' build/tests.log
if grep -qE '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' build/tests.log; then
    echo "== failures (full log: build/tests.log, build/meson-logs/testlog.txt) =="
    tail -n 150 build/tests.log
fi
# One .clang-format for the repo (STYLE.md), checked here.
fmt_rc=0
if ./scripts/check-format.sh >build/format-check.log 2>&1; then
    echo "== format check: ok ($(tail -n 1 build/format-check.log))"
else
    fmt_rc=1
    echo "== format check FAILED (clang-format -i FILE fixes it) =="
    tail -n 40 build/format-check.log
fi
# The handshake engine stays plain C on libcrypto (no DPDK, no gateway
# headers), checked here like the format.
if ./scripts/check-engine-deps.sh >build/engine-deps.log 2>&1; then
    echo "== engine dependency check: ok ($(tail -n 1 build/engine-deps.log))"
else
    fmt_rc=1
    echo "== engine dependency check FAILED (control/engine/ includes DPDK or gateway headers) =="
    tail -n 40 build/engine-deps.log
fi
# README's counter tables are generated from the code's lists.
if python3 scripts/readme-tables.py --check >build/readme-check.log 2>&1; then
    echo "== README counter tables: ok"
else
    fmt_rc=1
    echo "== README counter tables out of date (python3 scripts/readme-tables.py) =="
    cat build/readme-check.log
fi
# The interop and end-to-end suites once more with the sanitizer build's
# gateway, engine driver and helpers (the e2e suite's last test fails on any
# sanitizer report in the gateway's log).
meson test -C build-asan --suite interop --suite e2e --num-processes 1 --print-errorlogs \
    --no-rebuild --logbase asan-e2e >build-asan/e2e-tests.log 2>&1 || {
    echo "== sanitizer build: interop/e2e failures (build-asan/e2e-tests.log) =="
    tail -n 150 build-asan/e2e-tests.log
}
grep -E '^ *[0-9]+/[0-9]+ ' build-asan/e2e-tests.log | sed 's/^/asan /'
echo "== summary (ASan/UBSan build: unit, interop, e2e; fuzz smoke; normal build) =="
python3 tests/summarize.py build-asan/meson-logs/testlog.json build-asan/meson-logs/asan-e2e.json \
    build-fuzz/meson-logs/testlog.json build/meson-logs/testlog.json
rc=$?
[ "$fmt_rc" -eq 0 ] || rc=1
exit "$rc"
