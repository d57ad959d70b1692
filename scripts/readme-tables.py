#!/usr/bin/env python3
"""readme-tables.py — keeps README.md's counter tables equal to the code.

The tables between `<!-- counters:begin -->` and `<!-- counters:end -->` in
README.md are generated from the one list of each kind in the code:
  dataplane/dp_counters.h  DP_COUNTERS(X)       events and drops (stats "counters")
  control/engine/hs.h             HS_FAIL_REASONS(X)   handshake failures by reason
  control/gw_ctl.h         GW_CTL_COUNTERS(X)   the control socket's own counters
so a counter added in the code and not in the README fails the suite.

  python3 scripts/readme-tables.py          rewrite README.md
  python3 scripts/readme-tables.py --check  exit 1 (and say so) when out of date
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- counters:begin -->", "<!-- counters:end -->"


def macro_body(path, name):
    """The body of `#define name(X) ...` with its line continuations joined."""
    text = open(os.path.join(ROOT, path)).read()
    m = re.search(r"#define " + name + r"\(X\)((?:[^\n]*\\\n)*[^\n]*)", text)
    if not m:
        sys.exit(f"readme-tables: {name} not found in {path}")
    return m.group(1).replace("\\\n", " ")


def cstr(s):
    return s.replace('\\"', '"')


def tables():
    out = []
    body = macro_body("dataplane/dp_counters.h", "DP_COUNTERS")
    rows = re.findall(r'X\(\s*(\w+),\s*([01]),\s*"((?:[^"\\]|\\.)*)"\s*\)', body)
    if not rows:
        sys.exit("readme-tables: no DP_COUNTERS entries")
    out.append("Events (`dtlsgw-ctl stats`: traffic, handshakes and sessions; metrics "
               "`dtlsgw_events_total{counter=\"NAME\"}`):\n")
    out.append("| counter | counts |")
    out.append("|---|---|")
    out += [f"| `{n}` | {cstr(d)} |" for n, k, d in rows if k == "0"]
    out.append("")
    out.append("Drops (each dropped frame or record counts exactly once, under one reason; "
               "`DROP_CP_*` are the control plane's; metrics "
               "`dtlsgw_drops_total{reason=\"NAME\"}` without `DROP_`):\n")
    out.append("| drop | the frame or record was dropped because |")
    out.append("|---|---|")
    out += [f"| `{n}` | {cstr(d)} |" for n, k, d in rows if k == "1"]
    out.append("")
    body = macro_body("control/engine/hs.h", "HS_FAIL_REASONS")
    rows = re.findall(r'X\(\s*(\w+),\s*"((?:[^"\\]|\\.)*)"\s*\)', body)
    out.append("Handshake failures (stats `handshake_failures`, keyed by the text; "
               "the log line `handshake failed: TEXT; waiting for ...; client offered ...` "
               "says more):\n")
    out.append("| reason | text |")
    out.append("|---|---|")
    out += [f"| `{n}` | {cstr(d)} |" for n, d in rows if n != "NONE"]
    out.append("")
    body = macro_body("control/gw_ctl.h", "GW_CTL_COUNTERS")
    rows = re.findall(r"X\((\w+)\)\s*/\*\s*(.*?)\s*\*/", body)
    out.append("Control socket (stats `control`):\n")
    out.append("| counter | counts |")
    out.append("|---|---|")
    out += [f"| `{n}` | {d} |" for n, d in rows]
    return "\n".join(out) + "\n"


def main():
    path = os.path.join(ROOT, "README.md")
    text = open(path).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"readme-tables: {BEGIN} ... {END} not in README.md")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = head + BEGIN + "\n" + tables() + END + tail
    if "--check" in sys.argv[1:]:
        if new != text:
            print("readme-tables: README.md's counter tables differ from the code; "
                  "run python3 scripts/readme-tables.py")
            return 1
        print("readme-tables: README.md's counter tables match the code")
        return 0
    if new != text:
        open(path, "w").write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
