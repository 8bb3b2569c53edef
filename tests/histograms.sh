#!/bin/bash
# Latency histograms and fork phases on this kernel, checked against the
# trials' own numbers (tests/check_histograms.py); then the checker itself
# must catch a histogram that disagrees with its trial.  Faults and phases
# need fentry or kprobes: where this kernel refuses them, each piece must be
# absent with its reason (odf_kernel checks them for real in a VM).
set -euo pipefail
bin=$1
py=/usr/bin/python3
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" run -w fork-latency -s 32M -m fork -n 7 --warmup 1 --no-progress -o "$tmp/fl.json" 2>"$tmp/fl.err" ||
	{ tail -5 "$tmp/fl.err"; echo "FAIL: fork-latency run"; exit 1; }
"$bin" run -w post-fork-access -s 16M -m fork -n 3 --warmup 0 --params '{"who":"both"}' --no-progress -o "$tmp/pfa.json" 2>"$tmp/pfa.err" ||
	{ tail -5 "$tmp/pfa.err"; echo "FAIL: post-fork-access run"; exit 1; }
$py "$here/check_histograms.py" "$tmp/fl.json"
$py "$here/check_histograms.py" "$tmp/pfa.json"

# The clone histogram is the one every kernel gives (syscall tracepoints).
$py - "$tmp/fl.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
assert "clone" in r["histograms"]["kinds"], f"no clone histogram: {r['histograms']['missing'].get('clone')}"
for k, why in r["histograms"]["missing"].items():
    print(f"  absent here: {k}: {why[:110]}")
PY

# A checker that cannot fail proves nothing: one trial's clone sum off by 1 ns.
$py - "$tmp/fl.json" "$tmp/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["results"][0]["trials"][0]["histograms"]["clone"]["root"]["sum_ns"] += 1
json.dump(d, open(sys.argv[2], "w"))
PY
if $py "$here/check_histograms.py" "$tmp/bad.json" >"$tmp/bad.out"; then
	cat "$tmp/bad.out"; echo "FAIL: the checker accepted a clone histogram that disagrees with its trial"; exit 1
fi
grep -q "clone histogram" "$tmp/bad.out" || { cat "$tmp/bad.out"; echo "FAIL: the checker failed for another reason"; exit 1; }
echo "histograms: ok"
