#!/usr/bin/env bash
# issue 25: a strategy is never called ODF.  `odfbench report` on the committed
# host landscape run (fork against mthp, thp, vfork, posix-spawn, uffd-wp; no ODF)
# and on the 6.0.6 ODF run: no table row of a strategy says ODF, in its cells or
# its table's headers; the landscape figures are drawn and listed; the ODF run
# keeps its fork-vs-ODF headline.  Usage: report_strategies.sh ODFBENCH
set -u
bin=$(realpath "$1")
fx="$(cd "$(dirname "$0")" && pwd)/fixtures/results"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" report "$fx/host-6.18-landscape.json" -o "$tmp/land.html" --markdown "$tmp/land.md" >/dev/null 2>"$tmp/err" \
	|| { echo "FAIL: report on the landscape run: $(cat "$tmp/err")"; exit 1; }
"$bin" report "$fx/odf-6.0.6-tcg.json" -o "$tmp/odf.html" --markdown "$tmp/odf.md" >/dev/null 2>"$tmp/err" \
	|| { echo "FAIL: report on the ODF run: $(cat "$tmp/err")"; exit 1; }
exec /usr/bin/python3 - "$tmp" "$fx/host-6.18-landscape.json" <<'PY'
import json, re, sys
tmp, fixture = sys.argv[1], sys.argv[2]
strategies = {r["mode"] for r in json.load(open(fixture))["results"]} - {"fork"}
assert strategies and not any(m.startswith("odf") for m in strategies), strategies
fails = []

def tables(md):
    """(header cells, [row cells]) for each markdown table."""
    out, lines = [], md.splitlines()
    for i, l in enumerate(lines):
        if l.startswith("|") and i + 1 < len(lines) and re.match(r"^\|(-+\|)+$", lines[i + 1]):
            rows, j = [], i + 2
            while j < len(lines) and lines[j].startswith("|"):
                rows.append([c.strip() for c in lines[j].strip("|").split("|")]); j += 1
            out.append(([c.strip() for c in l.strip("|").split("|")], rows))
    return out

land = open(f"{tmp}/land.md").read()
strategy_rows = 0
for headers, rows in tables(land):
    for row in rows:
        if not strategies & set(row):
            continue
        strategy_rows += 1
        if any("ODF" in c for c in row):
            fails.append(f"a strategy row says ODF: {row}")
        if any("ODF" in h for h in headers):
            fails.append(f"a table with strategy rows has ODF in its headers: {headers} / {row[:4]}")
if strategy_rows < len(strategies):
    fails.append(f"only {strategy_rows} table rows name a strategy (of {sorted(strategies)})")
if "no strategies results" in land:
    fails.append("the page says there are no strategies results")
drawn = re.findall(r"^### Landscape, ([a-z-]+): every strategy", land, re.M)
html = open(f"{tmp}/land.html").read()
if not {"fork-latency", "fork-exec", "snapshot"} <= set(drawn):
    fails.append(f"landscape figures drawn: {drawn}")
if html.count("<svg") < len(drawn):
    fails.append("a landscape figure has no inline SVG")
if f"Landscape figures (every strategy against fork, per workload): {land.count(chr(10) + '### Landscape, ')} drawn" not in land:
    fails.append("the page does not count the landscape figures it drew")
odf = open(f"{tmp}/odf.md").read()
if "Headline fork-vs-ODF ratios" not in odf or not any(r[3] == "odf" for h, rs in tables(odf) if "ODF median" in h for r in rs):
    fails.append("the ODF run lost its fork-vs-ODF headline")
for f in fails:
    print("FAIL:", f)
if fails:
    sys.exit(1)
print(f"report_strategies: {strategy_rows} strategy rows, none says ODF; landscape figures {drawn}")
PY
