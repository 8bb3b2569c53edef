#!/usr/bin/env bash
# Kernel lines land on the cell that caused them: a cell whose program makes
# the kernel log a warning (here written to /dev/kmsg, as the kernel would
# print it when a child's mm is freed) keeps its measurement and gets the
# line and a "warnings" verdict; the next cell gets nothing; compare lists it.
set -u
bin=$(realpath "$1")
[ "$(id -u)" = 0 ] && [ -w /dev/kmsg ] || { echo "SKIP: /dev/kmsg not writable (root needed)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tag="odfbench-test-injected-$$"
cat > "$tmp/spec.json" <<JSON
{"name": "kernel-lines", "modes": ["fork"], "reps": 1, "warmup": 0, "experiments": [
  {"workload": "external", "sizes": ["1M"],
   "params": {"command": ["/bin/sh", "-c", "echo 'BUG: Bad rss-counter state mm:$tag type:MM_ANONPAGES val:4' > /dev/kmsg; echo 1 ops/s"],
              "metric": {"name": "ops", "regex": "([0-9.]+) ops/s"}}},
  {"workload": "external", "sizes": ["2M"],
   "params": {"command": ["/bin/sh", "-c", "echo 2 ops/s"], "metric": {"name": "ops", "regex": "([0-9.]+) ops/s"}}}
]}
JSON
run=("$bin" run "$tmp/spec.json" --no-progress -o "$tmp/r.json")
# ODFBENCH_KERNEL=<image or variant>: the same inside a guest, where the console watcher must not end the boot.
[ -n "${ODFBENCH_KERNEL:-}" ] && run=("$bin" vm --kernel "$ODFBENCH_KERNEL" -- run "$tmp/spec.json" --no-progress -o "$tmp/r.json")
"${run[@]}" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
"$bin" compare "$tmp/r.json" > "$tmp/cmp.txt" 2>&1 || { cat "$tmp/cmp.txt"; exit 1; }
/usr/bin/python3 - "$tmp/r.json" "$tag" "$tmp/cmp.txt" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); tag = sys.argv[2]; cmp = open(sys.argv[3]).read()
a, b = doc["results"]
problems = []
if a["status"] != "ok": problems.append(f"cell 0 lost its measurement: {a['status']} {a.get('reason')}")
if a.get("kernel_verdict") != "warnings": problems.append(f"cell 0 verdict: {a.get('kernel_verdict')}")
if not any(tag in l for l in a.get("kernel_lines", [])): problems.append(f"cell 0 lines: {a.get('kernel_lines')}")
if any(tag in l for l in b.get("kernel_lines", [])): problems.append("cell 1 got cell 0's line")
if tag not in cmp: problems.append("compare does not show the warning")
for p in problems: print("FAIL:", p)
print("kernel_lines: the warning is on its cell" if not problems else "kernel_lines: FAILED")
sys.exit(1 if problems else 0)
PY
