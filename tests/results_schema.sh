#!/usr/bin/env bash
# A real run's results file validates against the shipped schema, and the
# schema rejects documents that break its promises (it can fail).
set -eu
bin=$(realpath "$1"); schema=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
"$bin" run -w fork-latency -s 16M,32M -m fork,odf,odf-procfs -n 3 --warmup 1 --no-progress -o "$tmp/r.json" 2>"$tmp/log"
$py "$here/validate_results.py" "$schema" "$tmp/r.json"
echo "valid: real run"
$py "$here/validate_results.py" "$schema" "$here"/fixtures/results/*.json
echo "valid: committed results (ODF 6.0.6 under QEMU, every workload on a kernel without ODF)"
# Mutations the schema must reject.
$py - "$tmp/r.json" "$tmp" <<'PY'
import json, sys, copy
doc = json.load(open(sys.argv[1])); out = sys.argv[2]
muts = {
  "bad-status": lambda d: d["run"].__setitem__("status", "done"),
  "bad-variant": lambda d: d["run"]["odf"].__setitem__("variant", "odf"),
  "unverified-odf-ok": lambda d: d["results"].append(dict(copy.deepcopy(d["results"][0]), mode="odf")),
  "unavailable-with-trials": lambda d: d["results"].append(dict(copy.deepcopy(d["results"][0]), status="unavailable")),
  "probe-unattached-with-mechanism": lambda d: d["run"]["probes"].append({"name": "x", "mechanism": "fentry", "attached": False, "reason": "r"}),
  "missing-ci": lambda d: d["results"][0]["summary"]["fork_ns"].pop("ci95"),
  "histogram-missing-without-reason": lambda d: d["results"][0]["histograms"]["missing"].__setitem__("fault_all", ""),
  "histogram-bucket-not-a-triple": lambda d: d["results"][0]["trials"][0]["histograms"]["clone"]["root"]["buckets"].append([1, 2]),
}
for name, f in muts.items():
    d = copy.deepcopy(doc); f(d)
    json.dump(d, open(f"{out}/mut-{name}.json", "w"))
PY
for m in "$tmp"/mut-*.json; do
	if $py "$here/validate_results.py" "$schema" "$m" >/dev/null; then
		echo "FAIL: schema accepted $(basename "$m")"; exit 1
	fi
	echo "rejected: $(basename "$m")"
done
