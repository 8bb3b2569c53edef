#!/usr/bin/env bash
# A run inside a pid namespace (what Docker and Kubernetes give) carries the
# same BPF metrics as one outside: the probes key processes by their pid in
# odfbench's namespace.  A namespace whose /proc is not its own is refused
# with one line before any work.  Usage: pidns.sh ODFBENCH
set -u
bin=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v unshare >/dev/null || { echo "FAIL: unshare (util-linux) not found"; exit 1; }
args=(run -w post-fork-access -s 64M -m fork -n 3 --warmup 0 --no-progress --fault-probe on
      --params '{"who": "child", "fraction": 1.0, "op": "write"}')
"$bin" "${args[@]}" -o "$tmp/host.json" 2>"$tmp/host.err" || { echo "FAIL: run outside"; tail -3 "$tmp/host.err"; exit 1; }
unshare -p -f --mount-proc "$bin" "${args[@]}" -o "$tmp/ns.json" 2>"$tmp/ns.err" \
	|| { echo "FAIL: run inside unshare -p -f --mount-proc"; tail -3 "$tmp/ns.err"; exit 1; }
/usr/bin/python3 - "$tmp/host.json" "$tmp/ns.json" <<'PY' || exit 1
import json, sys
host, ns = (json.load(open(p)) for p in sys.argv[1:3])
assert host["run"]["capabilities"]["pid_namespace"]["initial"] is True, host["run"]["capabilities"]
assert ns["run"]["capabilities"]["pid_namespace"]["initial"] is False, ns["run"]["capabilities"]
h, n = host["results"][0], ns["results"][0]
assert h["status"] == n["status"] == "ok", (h.get("reason"), n.get("reason"))
assert "warning" not in n or "untracked" not in n["warning"], n["warning"]
hk, nk = (set().union(*(t.keys() for t in r["trials"])) for r in (h, n))
assert hk == nk, f"metrics differ: only outside {hk - nk}, only inside {nk - hk}"
for need in ("child_faults", "child_pgtables_bytes", "parent_pgtables_bytes", "child_mm_flags"):
    assert need in nk, f"{need} missing inside the namespace"
# Ground truth, not just agreement: one fault per written page (16384), as getrusage says.
pages = 64 * 1024 * 1024 // 4096
for t in n["trials"]:
    assert pages <= t["child_faults"] <= pages + 8 and abs(t["child_faults"] - t["child_minflt"]) <= 4, t
    assert t["child_pgtables_bytes"] >= 32 * 4096, t  # 64 MiB needs 32 PTE tables in a classic fork
med = lambda r, k: sorted(t[k] for t in r["trials"])[len(r["trials"]) // 2]
for k in ("child_pgtables_bytes", "parent_pgtables_bytes"):
    a, b = med(h, k), med(n, k)
    assert abs(a - b) <= 0.1 * a, f"{k}: {a} outside vs {b} inside"
print("pidns: same metrics inside the namespace; child_faults", [t["child_faults"] for t in n["trials"]])
PY
# /proc of the parent namespace: odfbench cannot map pids, so it refuses up front.
unshare -p -f "$bin" "${args[@]}" -o "$tmp/bad.json" 2>"$tmp/bad.err"; rc=$?
lines=$(wc -l <"$tmp/bad.err")
if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && grep -q "/proc is not this pid namespace's" "$tmp/bad.err" && [ ! -e "$tmp/bad.json" ]; then
	echo "ok: a foreign /proc is refused in one line: $(cat "$tmp/bad.err")"
else
	echo "FAIL: foreign /proc (rc=$rc, $lines lines, file $( [ -e "$tmp/bad.json" ] && echo left || echo none))"; cat "$tmp/bad.err"; exit 1
fi
echo "pidns: 2 passed, 0 failed"
