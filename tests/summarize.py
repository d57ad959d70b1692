#!/usr/bin/env python3
"""Sums the CUNIT-SUMMARY lines of one or more meson test logs.

Usage: summarize.py BUILD/meson-logs/testlog.json [...]
Every test program prints `CUNIT-SUMMARY name passed=N failed=M`; a test
that printed no summary (crash, timeout, missing peer) counts as one failure.
Prints per-program lines and, last, `N passed, N failed`.  Exit status 1
when anything failed."""
import json
import re
import sys

SUM = re.compile(r"CUNIT-SUMMARY (\S+) passed=(\d+) failed=(\d+)")

def main(paths):
    passed = failed = 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                t = json.loads(line)
                out = (t.get("stdout") or "") + (t.get("stderr") or "")
                hits = SUM.findall(out)
                label = f"{path.split('/')[0]}:{t.get('name')}"
                if not hits:
                    failed += 1
                    print(f"  {label}: no summary ({t.get('result')}) -> 1 failed")
                    continue
                p = sum(int(h[1]) for h in hits)
                fl = sum(int(h[2]) for h in hits)
                if t.get("result") not in ("OK", "EXPECTEDFAIL") and fl == 0:
                    fl = 1
                passed += p
                failed += fl
                print(f"  {label}: {p} passed, {fl} failed ({t.get('result')})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
