#!/usr/bin/env bash
# fork-tests on this host (fork mode; no ODF here): every test case is one
# child, counted three ways: the runner's own count, the BPF fork count, and
# the children's minor faults (each child writes write_pages fixture pages,
# each a copy-on-write fault).  Usage: fork_tests.sh ODFBENCH
set -u
bin=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" run --workload fork-tests --sizes 64M --modes fork --reps 3 --warmup 0 --no-progress \
	--params '{"tests": 40, "read_pages": 32, "write_pages": 4}' -o "$tmp/r.json" 2>"$tmp/err" || { echo "FAIL: run"; cat "$tmp/err"; exit 1; }
/usr/bin/python3 - "$tmp/r.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["results"][0]
assert c["status"] == "ok", c.get("reason")
assert len(c["trials"]) == 3, len(c["trials"])
for t in c["trials"]:
    assert t["tests"] == 40 and t["tests_failed"] == 0, t
    assert t["bpf_forks"] == t["tests"], (t["bpf_forks"], t["tests"])
    assert t["rusage_child_minflt"] >= 4 * t["tests"], t["rusage_child_minflt"]
    assert 0 < t["test_p50_ns"] <= t["test_p99_ns"] <= t["test_max_ns"], t
    # throughput and latency agree: tests/s is about 1e9 / mean latency
    assert 0.5 < t["tests_per_s"] * t["test_mean_ns"] / 1e9 <= 1.01, t
    assert t["odf_verified"] is False  # fork mode
print("fork-tests: ok:", [(round(t["tests_per_s"]), t["test_p50_ns"]) for t in c["trials"]])
PY
