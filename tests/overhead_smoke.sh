#!/usr/bin/env bash
# odfbench overhead, small: every figure of the report is there, each side has
# its trials, and the A/B switching leaves no BPF program behind.
set -u
bin=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
progs() { bpftool prog show 2>/dev/null | grep -c '^[0-9]*:'; }
before=$(progs)
"$bin" overhead -n 3 --fault-reps 4 -s 16M -o "$tmp/o.json" --markdown "$tmp/perf.md" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
for _ in $(seq 50); do [ "$(progs)" -le "$before" ] && break; sleep 0.1; done
[ "$(progs)" -le "$before" ] || { echo "FAIL: BPF programs left: $(progs) > $before"; exit 1; }
/usr/bin/python3 - "$tmp/o.json" <<'PY'
import json, math, sys
j = json.load(open(sys.argv[1]))
assert j["status"] == "complete"
f = j["fork"][0]
assert f["without_probes_ns"]["n"] == 3 and f["with_probes_ns"]["n"] == 3, f
assert f["user_minus_kernel_clone_ns"]["n"] == 3, f  # the clone probe saw every tracked fork
assert 0 < f["ratio"]["value"] < 10, f
for who in ("tracked", "untracked"):
    fa = j["fault"][who]
    assert fa["with_probes_ns_per_fault"]["n"] == fa["without_probes_ns_per_fault"]["n"] == 4, fa
    assert fa["added_ns_per_fault"]["pairs"] == 4 and math.isfinite(fa["added_ns_per_fault"]["value"]), fa
assert j["syscall"]["added_ns_per_syscall"]["pairs"] == 4
df = j["fault"]["dispatch_floor"]
assert df["available"] and df["added_ns_per_fault"]["pairs"] == 4, df
# Ground truth for the kernel's own program stats: the tracked passes touched
# 3 x 256M / 4 KiB fresh pages (each one fault), plus 10 forks, and other
# processes only add runs.
pc = j["program_cost"]
if pc["available"]:
    runs = {p["program"]: p["runs"] for p in pc["programs"]}
    fault = runs.get("fault_btf", runs.get("fault_raw"))
    assert fault is not None and fault >= 3 * (256 << 20) // 4096, runs
    fork = runs.get("fork_btf", runs.get("fork_raw"))
    assert fork is not None and fork >= 10, runs
else:
    print("overhead_smoke: BPF_STATS_RUN_TIME unavailable:", pc["reason"])
assert j["timer"]["resolution_ns"] >= 1 and j["timer"]["cost_per_call_ns"] > 0
assert [p["threads"] for p in j["prefault"]][0] == 1
PY
grep -q "## Page-fault cost" "$tmp/perf.md" && grep -q "## Syscall tax" "$tmp/perf.md" || { echo "FAIL: report"; exit 1; }
# --report rewrites the same report from the JSON alone, measuring nothing.
"$bin" overhead --report "$tmp/o.json" --markdown "$tmp/perf2.md" >/dev/null || { echo "FAIL: --report"; exit 1; }
cmp -s "$tmp/perf.md" "$tmp/perf2.md" || { echo "FAIL: --report gives a different report"; diff "$tmp/perf.md" "$tmp/perf2.md" | head; exit 1; }
echo "overhead_smoke: report complete, no programs left"
