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
/usr/bin/python3 - "$tmp/r.json" <<'PY' || exit 1
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
    assert t["tests_reaped"] == 40, t["tests_reaped"]
    # each child's own faults: the 4 pages it writes plus a fixed few of its own
    assert 4 <= t["child_faults_min"] <= t["child_faults_max"] <= 4 + 16, t
print("fork-tests: ok:", [(round(t["tests_per_s"]), t["test_p50_ns"]) for t in c["trials"]])
PY
# The ground truth for the fault count: write 24 more pages per test, and each
# child faults exactly 24 more times (each a copy-on-write fault).
"$bin" run --workload fork-tests --sizes 64M --modes fork --reps 1 --warmup 0 --no-progress \
	--params '{"tests": 40, "read_pages": 32, "write_pages": 28}' -o "$tmp/r28.json" 2>"$tmp/err" || { echo "FAIL: run"; cat "$tmp/err"; exit 1; }
/usr/bin/python3 - "$tmp/r.json" "$tmp/r28.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["results"][0]["trials"][0]
b = json.load(open(sys.argv[2]))["results"][0]["trials"][0]
d = (b["child_faults_min"] - a["child_faults_min"], b["child_faults_max"] - a["child_faults_max"])
assert abs(d[0] - 24) <= 1 and abs(d[1] - 24) <= 1, d
print("fork-tests: 24 more pages written, child faults +", d)
PY
