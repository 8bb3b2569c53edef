#!/usr/bin/env bash
# Two odfbench runs at once: each has its own BPF maps and filters, so neither
# sees the other's processes, and both results files are complete and valid.
set -u
bin=$(realpath "$1")
schema=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" run -w fork-latency -s 64M -m fork -n 15 --warmup 1 --no-progress --fault-probe on -o "$tmp/a.json" 2>"$tmp/a.err" &
a=$!
"$bin" run -w post-fork-access -s 64M -m fork -n 5 --warmup 1 --no-progress -o "$tmp/b.json" \
	--params '{"who": "child", "fraction": 1.0, "op": "write"}' 2>"$tmp/b.err" &
b=$!
wait $a; ra=$?
wait $b; rb=$?
[ $ra -eq 0 ] && [ $rb -eq 0 ] || { echo "FAIL: exit codes $ra $rb"; tail -3 "$tmp"/*.err; exit 1; }
/usr/bin/python3 "$here/validate_results.py" "$schema" "$tmp/a.json" "$tmp/b.json" || exit 1
/usr/bin/python3 - "$tmp/a.json" "$tmp/b.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["run"]["status"] == b["run"]["status"] == "complete"
# Run A's children fault a few times each; had they counted run B's 16384-page
# writes (or B counted A's), these would be off by thousands.
for t in a["results"][0]["trials"]:
    assert t["child_faults"] <= t["rusage_child_minflt"] <= t["child_faults"] + 4, t
pages = 64 * 1024 * 1024 // 4096
for t in b["results"][0]["trials"]:
    assert pages <= t["child_faults"] <= pages + 8 and abs(t["child_faults"] - t["child_minflt"]) <= 4, t
print("concurrency: two simultaneous runs, each counted only its own processes")
PY
