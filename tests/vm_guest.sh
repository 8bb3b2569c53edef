#!/usr/bin/env bash
# odfbench vm against a real Debian cloud kernel under QEMU: fentry and kprobe
# paths, results back on the host, failure detection (panic, silent boot,
# hard timeout, Ctrl-C) and cleanup.  Usage: vm_guest.sh ODFBENCH KERNEL_CACHE_DIR
set -u
bin=$(realpath "$1")
kernel=$("$(dirname "$0")/debian_kernel.sh" "$2") || { echo "FAIL: could not fetch a Debian cloud kernel"; exit 1; }
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
dirs_before=$(ls -d /tmp/odfbench-vm-* 2>/dev/null)
leftovers() {  # this test's QEMU processes or temp dirs (other VMs may be running)
	pgrep -f -- "-kernel $kernel" >/dev/null && echo "qemu still running"
	comm -13 <(echo "$dirs_before" | sort) <(ls -d /tmp/odfbench-vm-* 2>/dev/null | sort)
}
vm() { "$bin" vm --kernel "$kernel" --mem 2G --timeout 240 "$@"; }

# A. doctor: fentry works in this guest, and the results say they came from a VM.
vm -- doctor --json >"$tmp/doctor.json" 2>"$tmp/doctor.err"; rc=$?
if [ $rc -eq 0 ] && $py - "$tmp/doctor.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
p = {x["name"]: x for x in j["probes"]}
assert j["capabilities"]["fentry"]["available"] is True, j["capabilities"]
assert p["copy_page_range"]["attached"] and p["copy_page_range"]["mechanism"] == "fentry", p["copy_page_range"]
assert p["sched_process_fork"]["mechanism"] == "tp_btf", p["sched_process_fork"]
vm = j["environment"]["vm"]
assert vm["accelerator"] in ("kvm", "tcg") and vm["accelerator_reason"] and vm["qemu"].startswith("QEMU"), vm
assert "cloud-amd64" in j["kernel"]["release"], j["kernel"]  # the guest's kernel, not the host's
PY
then ok "doctor in the guest: fentry available, copy_page_range by fentry"; else bad "doctor in the guest (rc=$rc)"; cat "$tmp/doctor.err"; fi

# B. The kprobe fallback, which this host's kernel cannot exercise.
vm -- doctor --json --no-fentry >"$tmp/kprobe.json" 2>"$tmp/kprobe.err"; rc=$?
if [ $rc -eq 0 ] && $py -c '
import json, sys
p = {x["name"]: x for x in json.load(open(sys.argv[1]))["probes"]}
assert p["copy_page_range"]["attached"] and p["copy_page_range"]["mechanism"] == "kprobe", p["copy_page_range"]
' "$tmp/kprobe.json"; then ok "--no-fentry: copy_page_range by kprobe"; else bad "kprobe fallback (rc=$rc)"; cat "$tmp/kprobe.err"; fi

# C. A run: its results land on the host; copy_page_range fires once per VMA
#    (ground truth: /proc/self/maps before the fork), inside the clone.
vm -- run --workload fork-latency --sizes 64M --modes fork --reps 3 -o "$tmp/run.json" 2>"$tmp/run.err"; rc=$?
if [ $rc -eq 0 ] && [ -f "$tmp/run.json" ] && $py - "$tmp/run.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["run"]["status"] == "complete", j["run"]["status"]
assert j["run"]["environment"]["vm"]["accelerator"] in ("kvm", "tcg")
r = j["results"][0]
assert r["status"] == "ok", r.get("reason")
for t in r["trials"]:
    assert t["copy_page_range_calls"] == t["parent_vmas"] > 5, t
    assert 0 < t["copy_page_range_ns"] <= t["clone_kernel_ns"] <= t["fork_ns"], t
    # 6.1 keeps mm->flags as an unsigned long (the host's 6.18 has the bitmap
    # struct): bits 0-1, the dumpable mode, are 1 for a plain process.
    assert t["child_mm_flags"] & 3 == 1, t
PY
then ok "run in the guest: results on the host, copy_page_range calls == VMAs"; else bad "run in the guest (rc=$rc)"; cat "$tmp/run.err"; fi

# C2. Fault latency and fork phases on a kernel without ODF, by fentry and by kprobe:
#     every fault timed, split into plain (the parent reusing what the child
#     copied) and page-copy faults that add up to the pages written; no table copies.
for how in fentry kprobe; do
	flag=(); [ $how = kprobe ] && flag=(--no-fentry)
	vm -- run -w post-fork-access -s 16M -m fork -n 3 --warmup 0 --params '{"who":"both"}' "${flag[@]}" --no-progress \
		-o "$tmp/anat-$how.json" 2>"$tmp/anat-$how.err"; rc=$?
	if [ $rc -eq 0 ] && $py "$(dirname "$0")/check_histograms.py" "$tmp/anat-$how.json" --expect-faults >"$tmp/anat-$how.out" &&
		$py -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
assert "no ODF" in r["histograms"]["missing"]["fault_table_copy"], r["histograms"]["missing"]
assert r["histograms"]["kinds"]["fault_plain"]["root"]["count"] > 0, "the parent reused no page"
' "$tmp/anat-$how.json"; then ok "fault histograms by $how: $(tail -1 "$tmp/anat-$how.out")"
	else bad "fault histograms by $how (rc=$rc)"; cat "$tmp/anat-$how.out" 2>/dev/null; tail -5 "$tmp/anat-$how.err"; fi
done

# D. A kernel without BTF still runs; the report names what is missing.
vm --hide-btf -- doctor --json >"$tmp/nobtf.json" 2>"$tmp/nobtf.err"; rc=$?
if $py -c '
import json, sys
j = json.load(open(sys.argv[1]))
p = {x["name"]: x for x in j["probes"]}
assert j["kernel"]["btf"] is False
assert not p["sched_process_fork"]["attached"] and "BTF" in p["sched_process_fork"]["reason"], p["sched_process_fork"]
assert p["page_fault_user"]["attached"] and p["page_fault_user"]["mechanism"] == "tracepoint", p["page_fault_user"]
assert p["copy_page_range"]["mechanism"] == "kprobe", p["copy_page_range"]
' "$tmp/nobtf.json"; then ok "--hide-btf: raw_tp/kprobe where possible, BTF named as missing"; else bad "--hide-btf (rc=$rc)"; cat "$tmp/nobtf.err"; fi

# E. The guest command's exit status and error come through.
vm -- run -w nope -s 1M >/dev/null 2>"$tmp/e.err"; rc=$?
if [ $rc -eq 2 ] && grep -q 'unknown workload "nope"' "$tmp/e.err"; then ok "guest exit status 2 propagated"; else bad "guest exit status (rc=$rc)"; fi

# F. A panic is detected and reported with the console's last lines.  It
#    came before the guest was up, so the boot is tried 3 times in all (an
#    emulator's fault would pass), then given up: a kernel that cannot boot fails.
vm --append rdinit=/nonexistent -- doctor >/dev/null 2>"$tmp/f.err"; rc=$?
if [ $rc -eq 3 ] && grep -q "kernel crashed" "$tmp/f.err" && grep -q "Kernel panic" "$tmp/f.err" &&
	[ "$(grep -c 'crashed before the guest came up (.*Kernel panic.*); nothing of the command ran, booting again' "$tmp/f.err")" = 2 ] &&
	grep -q "crashed before the guest came up in 3 boots in a row; giving up" "$tmp/f.err"; then ok "panic detected, boot tried 3 times"
else bad "panic (rc=$rc)"; grep -v "guest|" "$tmp/f.err" | tail -5; fi

# G. A guest whose init never speaks hits the boot timeout.
vm --append rdinit=/bin/cat --boot-timeout 8 -- doctor >/dev/null 2>"$tmp/g.err"; rc=$?
if [ $rc -eq 3 ] && grep -q "did not start within 8 s" "$tmp/g.err"; then ok "silent boot detected"; else bad "boot timeout (rc=$rc)"; tail -3 "$tmp/g.err"; fi

# H. The guest's own deadline (--timeout minus 30 s) stops the command with
#    SIGTERM, and its interrupted results still come home.
"$bin" vm --kernel "$kernel" --mem 2G --timeout 40 -- run -w fork-latency -s 64M -m fork -n 100000 --warmup 0 --no-progress -o "$tmp/h.json" >/dev/null 2>"$tmp/h.err"; rc=$?
if [ $rc -eq 130 ] && $py -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["run"]["status"] == "interrupted", j["run"]["status"]
r = j["results"][0]
assert r["interrupted"] is True and len(r["trials"]) > 0, r.get("reason")  # every trial finished so far is kept
' "$tmp/h.json"; then ok "guest deadline: interrupted results on the host"; else bad "guest deadline (rc=$rc)"; tail -3 "$tmp/h.err"; fi

# H2. The host's hard timeout kills QEMU (here the guest never even speaks).
start=$(date +%s)
"$bin" vm --kernel "$kernel" --mem 2G --append rdinit=/bin/cat --boot-timeout 100 --timeout 12 -- doctor >/dev/null 2>"$tmp/h2.err"; rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -eq 3 ] && grep -q "hard timeout" "$tmp/h2.err" && [ $took -lt 30 ] && [ -z "$(leftovers)" ]; then ok "hard timeout (${took} s), nothing left behind"; else bad "hard timeout (rc=$rc, ${took} s) $(leftovers)"; tail -3 "$tmp/h2.err"; fi

# I. Ctrl-C: QEMU stopped, temp files gone, exit 130.
"$bin" vm --kernel "$kernel" --mem 2G -- run -w fork-latency -s 64M -m fork -n 100000 --warmup 0 --no-progress >/dev/null 2>"$tmp/i.err" &
pid=$!
for _ in $(seq 60); do grep -q "guest up" "$tmp/i.err" && break; sleep 0.5; done
kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && [ -z "$(leftovers)" ]; then ok "SIGINT: exit 130, nothing left behind"; else bad "SIGINT (rc=$rc) $(leftovers)"; tail -3 "$tmp/i.err"; fi

# J. A kernel that crashes mid-run loses nothing: the guest crashes on purpose
#    (sysrq-trigger) in the middle cell of three.  The cell before it came home
#    as it finished, the crash is recorded with its console lines, and a fresh
#    boot ran the cell after it.
cat >"$tmp/crash-spec.json" <<'JSON'
{"name": "crash", "experiments": [
 {"workload": "fork-latency", "sizes": ["16M"], "modes": ["fork"], "reps": 2, "warmup": 0},
 {"workload": "external", "sizes": ["1M"], "modes": ["fork"], "reps": 1, "warmup": 0,
  "params": {"command": ["/bin/sh", "-c", "echo c > /proc/sysrq-trigger"], "metric": {"name": "x", "regex": "([0-9]+)"}}},
 {"workload": "fork-latency", "sizes": ["32M"], "modes": ["fork"], "reps": 2, "warmup": 0}]}
JSON
vm -- run "$tmp/crash-spec.json" --no-progress -o "$tmp/j.json" >/dev/null 2>"$tmp/j.err"; rc=$?
if [ $rc -eq 0 ] && $py - "$tmp/j.json" "$(dirname "$0")/../docs/results.schema.json" <<'PY'
import json, sys, jsonschema
j = json.load(open(sys.argv[1]))
jsonschema.validate(j, json.load(open(sys.argv[2])))
r = {x["cell"]: x for x in j["results"]}
assert sorted(r) == [0, 1, 2], sorted(r)
assert r[0]["status"] == "ok" and r[0]["boot"] == 0 and len(r[0]["trials"]) == 2, r[0].get("reason")
assert r[1]["status"] == "kernel-crash" and r[1]["boot"] == 0, r[1]
assert any("sysrq triggered crash" in l for l in r[1]["console"]), r[1]["console"][:3]
assert r[2]["status"] == "ok" and r[2]["boot"] == 1 and len(r[2]["trials"]) == 2, r[2].get("reason")
b = j["run"]["boots"]
assert [x["outcome"] for x in b] == ["kernel-crash", "finished"], b
assert j["run"]["status"] == "complete", j["run"]["status"]
PY
then ok "kernel crash mid-run: cell before kept, crash recorded with its oops, fresh boot ran the rest"; else bad "kernel crash mid-run (rc=$rc)"; grep -v 'guest|' "$tmp/j.err" | tail -5; fi

echo "vm_guest: $pass passed, $fail failed"
[ $fail -eq 0 ]
