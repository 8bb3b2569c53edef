#!/usr/bin/env bash
# bench/workloads-quick.json on this machine: every workload runs, and each
# one's metric agrees with a source independent of it.
set -u
bin=$(realpath "$1")
spec=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" run "$spec" --no-progress -o "$tmp/r.json" 2>"$tmp/err"; rc=$?
/usr/bin/python3 - "$tmp/r.json" "$rc" <<'PY' || { tail -20 "$tmp/err"; exit 1; }
import json, sys
doc = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
odf = doc["run"]["odf"]["variant"]
cells = {}
for r in doc["results"]:
    cells.setdefault((r["workload"], r["mode"]), []).append(r)
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
def fork(w, i=0):
    r = cells[(w, "fork")][i]
    assert r["status"] == "ok", f'{w}: {r["status"]}: {r.get("reason")}'
    return r

workloads = {w for w, _ in cells}
check(len(workloads) == 12, f"workloads run: {sorted(workloads)}")
modes = {m for _, m in cells}
want_modes = {"fork", "odf", "odf-procfs", "thp", "uffd-wp", "vfork", "posix-spawn"} | {f"mthp-{k}" for k in ("16K", "32K", "64K", "128K", "256K", "512K", "1M")}
check(modes == want_modes, f"modes run: {sorted(modes)}, not {sorted(want_modes)}")
for (w, m), rs in cells.items():
    for r in rs:
        if m.startswith("odf") and odf == "none":
            check(r["status"] == "unavailable" and "no ODF" in r["reason"], f"{w}/{m}: {r['status']}")

# The strategies: each folio size really backs the region (the pagemap/kpageflags
# census), or the kernel lacks it and says so.
for (w, m), rs in cells.items():
    if m == "thp" or m.startswith("mthp-"):
        for r in rs:
            check(r["status"] == "ok" or (r["status"] == "unavailable" and r["reason"]), f"{w}/{m}: {r['status']} {r.get('reason')}")
            for t in r.get("trials", []):
                check(t.get("folio_verified") is True, f"{w}/{m}: folio census {t.get('folio_census')}")
# fork-exec: one clone each; the program started after the call returned and exited after it ran;
# vfork and posix_spawn share the parent's mm, fork does not.
for m in ("fork", "vfork", "posix-spawn"):
    r = cells[("fork-exec", m)][0]
    check(r["status"] == "ok", f"fork-exec/{m}: {r['status']} {r.get('reason')}")
    for t in r.get("trials", []):
        check(t.get("clones") == 1 and t["spawn_return_ns"] <= t["exec_ns"] <= t["exit_ns"], f"fork-exec/{m}: {t}")
        check(t.get("child_mm_shared") == (m != "fork"), f"fork-exec/{m}: child_mm_shared {t.get('child_mm_shared')}")
# snapshot: every page of every snapshot checked against the writer's record.
for m in ("fork", "uffd-wp"):
    r = cells[("snapshot", m)][0]
    check(r["status"] == "ok", f"snapshot/{m}: {r['status']} {r.get('reason')}")
    pages = (16 << 20) >> 12  # the spec's 16M in 4 KiB pages
    for t in r.get("trials", []):
        check(t["snapshot_verified"] and t["pages_verified"] == pages and t["pages_mismatched"] == 0,
              f"snapshot/{m}: {t['pages_verified']} of {pages} pages verified, {t['pages_mismatched']} mismatched")

# fork-latency: classic fork copies every table of the region.
for t in fork("fork-latency")["trials"]:
    check(t["child_pgtables_bytes"] >= 256 * 1024 * 1024 // (2 << 20) * 4096, f"fork-latency pgtables {t}")
# post-fork-access: each writer faults once per written page; getrusage agrees.
pfa = fork("post-fork-access")
pages = pfa["setup"]["pages_touched"]
for t in pfa["trials"]:
    for who in ("child", "parent"):
        f, ru = t[f"{who}_faults"], t[f"{who}_minflt"]
        check(pages <= f <= pages + 8 and abs(f - ru) <= 4, f"post-fork-access {who}: {f} faults, {ru} minflt, {pages} pages")
# concurrent-fork: three holders, each child got every table of its own region.
for t in fork("concurrent-fork")["trials"]:
    check(t["procs"] == 3 and len(t["holders"]) == 3, f"concurrent-fork holders {t}")
    for h in t["holders"]:
        check(h["child_pgtables_bytes"] >= 128 * 1024 * 1024 // (2 << 20) * 4096, f"concurrent-fork holder {h}")
    check(t["fork_ns_min"] <= t["fork_ns"] <= t["fork_ns_max"], f"concurrent-fork order {t}")
# vma-sweep: /proc/self/maps shows the requested mappings (plus the program's own few).
vs = fork("vma-sweep")
for t in vs["trials"]:
    check(2000 <= t["parent_vmas"] <= 2000 + 60, f"vma-sweep parent_vmas {t['parent_vmas']}")
# fork-rate: the BPF fork count equals the cycles the loop counted.
for t in fork("fork-rate")["trials"]:
    check(t["bpf_forks"] == t["cycles"] > 10, f"fork-rate {t['bpf_forks']} forks vs {t['cycles']} cycles")
# thp: smaps says the region is on huge pages (when THP is not off).
thp = fork("thp")
check(thp["setup"]["anon_huge_kb"] >= 200 * 1024 or thp["setup"]["anon_huge_kb"] == 0, f"thp anon_huge_kb {thp['setup']['anon_huge_kb']}")
# redis: Redis's own fork time against the BPF clone time of the redis process.
# Redis 7.0 times fork() from user space (ustime() before and after glibc's
# fork(), src/server.c redisFork), so the clone syscall lies inside that interval:
# clone <= latest_fork_usec, + 1 us as Redis truncates both ends to whole us.
# How much more Redis counts (atfork handlers, the parent's first COW faults,
# and above all the parent waiting for a CPU after clone returns) depends on the
# machine's load: reported, not asserted (docs/workloads.md).
rs = rs_error = cells[("redis-snapshot", "fork")][0]
saturated = rs["status"] == "error" and "the load was not carried" in rs.get("reason", "")
if saturated:
    # A busy machine may not carry even half the capacity it measured a moment
    # before: the cell must then be an error that says so, with its numbers.
    check("behind schedule" in rs["reason"] or "still up to" in rs["reason"], f"redis saturation without numbers: {rs['reason']}")
    print(f"note: redis-snapshot fork: {rs['reason'][:200]}; its other checks were not run")
else:
    rs = fork("redis-snapshot")
    load = rs["setup"]["load"]
    # No fixed rate in the spec: half the highest rate of the ramp that was carried, at most 4000/s;
    # the ramp stops at the first rate carried, and only that one was.
    ch = load["rate_chosen"]
    check(ch["by"] == "rate ramp" and load["rate_per_s"] == min(ch["ceiling_per_s"], int(ch["fraction"] * ch["carried_per_s"]))
          and [s[2] for s in ch["steps"]] == [False] * (len(ch["steps"]) - 1) + [True] and ch["steps"][-1][0] == ch["carried_per_s"],
          f"redis rate {load['rate_per_s']} not chosen by the ramp: {ch}")
    rate, conns, interval = load["rate_per_s"], load["connections"], load["schedule_interval_ns"]
    ratios = []
    for t in rs["trials"]:
        us, k = t["latest_fork_usec"] * 1000, t.get("clone_kernel_ns")
        if k is None:
            check(False, f"redis: no clone_kernel_ns (redis_clones {t.get('redis_clones')}, untracked {t.get('untracked')})")
            continue
        check(k <= us + 1000, f"redis clone {k} ns > latest_fork_usec {us} ns + 1 us")
        ratios.append((us / k, (us - k) / 1000))
        # The open-loop client: every scheduled request sent and answered, one sample each, no gap.
        sent = t["requests_sent"]
        check(t["load_kept_up"] is True, f"redis: an ok trial whose load was not kept up: {t['load_behind_ns']}")
        check(sent == t["requests_answered"] + t["requests_failed"] == t["requests_scheduled"] and t["requests_failed"] == 0,
              f"redis requests sent {sent}, answered {t['requests_answered']}, failed {t['requests_failed']}, scheduled {t['requests_scheduled']}")
        check(t["schedule_max_gap_ns"] <= interval + 1, f"redis series gap {t['schedule_max_gap_ns']} ns > interval {interval} ns")
        check(t["before_requests"] + t["during_requests"] + t["after_requests"] == sent, f"redis phases do not add up to {sent}")
        check(sum(p[2] for p in t["latency_series"]) == sent, "redis latency_series counts do not add up to the requests sent")
        for ph in ("before", "during", "after"):
            v = [t[f"{ph}_{q}_ns"] for q in ("p50", "p99", "p999", "max")]
            check(t[f"{ph}_requests"] > 0 and v == sorted(v), f"redis {ph}: {t[f'{ph}_requests']} requests, p50/p99/p999/max {v}")
        # Every request due while the snapshot ran counts in "during" (the schedule's arithmetic) ...
        check(t["during_requests"] >= int(rate * t["snapshot_ns"] / 1e9) - 1,
              f"redis during_requests {t['during_requests']} < rate x snapshot {rate * t['snapshot_ns'] / 1e9:.0f}")
        # ... and Redis serves nothing while it forks: a request due just after the fork began
        # waits for its end, so the client saw the stall (a closed-loop client sees it once).
        if us > 2 * interval:
            check(t["during_max_ns"] >= us - interval - 1000, f"redis during_max_ns {t['during_max_ns']} < fork {us} ns - interval")
        # The mix: SETs are write_fraction of the requests (within 6 sigma of the binomial).
        wf = load["write_fraction"]
        check(abs(t["writes_sent"] - wf * sent) <= 6 * (sent * wf * (1 - wf)) ** 0.5 + 1, f"redis writes {t['writes_sent']} of {sent}, fraction {wf}")
    print("redis-snapshot: latest_fork_usec / clone_kernel_ns = " + ", ".join(f"{r:.3f} (+{d:.0f} us)" for r, d in ratios)
          + f"; load {rate:.0f} req/s, {conns} connections, {load['write_fraction']:.0%} SET")
# fuzz: executions the driver (or AFL) counted against forks BPF saw.
for r in cells[("fuzz", "fork")]:
    assert r["status"] == "ok", r.get("reason")
    for t in r["trials"]:
        e, b = t["execs"], t["bpf_forks"]
        check(e > 0 and abs(b - e) <= max(2, 0.1 * e), f"fuzz ({r['setup']['driver']}) execs {e} vs BPF forks {b}")
# fork-tests: one child per test, each reaped (the runner's waitpid) and each
# seen forked by BPF; each child's own fault count (page_fault_user) covers the
# fixture pages it writes, a copy-on-write fault each, plus a fixed few of its
# own (stack, libc: 11-12 here); getrusage's total for the children agrees.
ft = fork("fork-tests")
w = ft["setup"]["write_pages"]
for t in ft["trials"]:
    n = t["tests"]
    check(t["tests_reaped"] == n and t.get("bpf_forks") == n and t["tests_failed"] == 0,
          f"fork-tests {n} tests: {t['tests_reaped']} reaped, {t.get('bpf_forks')} BPF forks, {t['tests_failed']} failed")
    lo, hi = t.get("child_faults_min"), t.get("child_faults_max")
    check(lo is not None and w <= lo <= hi <= w + 16 and hi - lo <= 4, f"fork-tests child faults {lo}..{hi} for {w} pages written")
    if lo is not None:
        check(lo * n <= t["rusage_child_minflt"] <= (hi + 2) * n, f"fork-tests rusage minflt {t['rusage_child_minflt']} vs BPF {lo}..{hi} x {n}")
# external: the script forks exactly four times (sleep, then true three times) and prints 7.5.
for t in fork("external")["trials"]:
    check(t["metric"] == 7.5 and t["forks"] == 4, f"external {t}")
assert not problems, "\n".join(problems)
# The run fails when a cell is an error: here only a redis load a busy machine did not carry may be.
assert rc == (1 if saturated else 0), f"exit status {rc}"
if saturated:
    others = [f"{r['workload']}/{r['mode']}" for rs in cells.values() for r in rs if r["status"] == "error" and r is not rs_error]
    assert not others, f"error cells beside the saturated redis cell: {others}"
print(f"workloads_quick: {len(workloads)} workloads, all checks held")
PY
