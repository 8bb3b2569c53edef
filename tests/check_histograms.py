"""Checks a results file's latency histograms and fork phases against
independent numbers: the trial's own clone time, the page-fault tracepoint's
counts, the pages a trial touched, the tables its region spans.

usage: check_histograms.py RESULTS [--expect-faults] [--expect-phases]
  --expect-faults: fault histograms must be there (a kernel with fentry or
                   kprobes), split by what the fault did, for post-fork-access
  --expect-phases: the fork phases must be measured (dup_mm, copy_page_range,
                   anon_vma_fork, __pte_alloc all live)"""
import json
import math
import sys

ERR = 1 / 32  # bpf/odfbench.h: a bucket midpoint is within 1/32 of any value in it
MIB2 = 2 << 20
failures = []


def fail(msg):
    failures.append(msg)


def quantile(values, q):
    v = sorted(values)
    return v[min(len(v), max(1, math.ceil(q * len(v)))) - 1]


def check_hist(where, h):
    n = sum(b[2] for b in h["buckets"])
    if n != h["count"]:
        fail(f"{where}: buckets hold {n}, count says {h['count']}")
    lo = sum(b[0] * b[2] for b in h["buckets"])
    hi = sum(b[1] * b[2] for b in h["buckets"])
    if not lo <= h["sum_ns"] <= hi:
        fail(f"{where}: sum_ns {h['sum_ns']} outside what its buckets allow [{lo}, {hi}]")


def total(t, kind):
    return sum(r["count"] for r in t["histograms"].get(kind, {}).values())


def main():
    args = sys.argv[1:]
    path = args[0]
    expect_faults = "--expect-faults" in args
    expect_phases = "--expect-phases" in args
    doc = json.load(open(path))
    checked = {"cells": 0, "fault_cells": 0, "phase_trials": 0, "table_copy_cells": 0}
    for r in doc["results"]:
        if r["status"] != "ok":
            continue
        cell = f"{r['workload']} {r['params']['size']} {r['mode']}"
        h = r.get("histograms")
        if not h:
            fail(f"{cell}: no histograms")
            continue
        checked["cells"] += 1
        for k, why in h["missing"].items():
            if not why:
                fail(f"{cell}: histogram {k} missing without a reason")
            if k in h["kinds"]:
                fail(f"{cell}: histogram {k} both missing and present")
        for i, t in enumerate(r["trials"]):
            tw = f"{cell} trial {i}"
            if set(t["histograms"]) != set(h["kinds"]):
                fail(f"{tw}: kinds {sorted(t['histograms'])} differ from the cell's {sorted(h['kinds'])}")
            for kind, roles in t["histograms"].items():
                for role, hh in roles.items():
                    check_hist(f"{tw} {kind}/{role}", hh)
            if r["workload"] == "fork-latency" and "clone" in t["histograms"] and "clone_kernel_ns" in t:
                root = t["histograms"]["clone"]["root"]
                if root["count"] != 1 or root["sum_ns"] != t["clone_kernel_ns"]:
                    fail(f"{tw}: clone histogram {root['count']} samples, {root['sum_ns']} ns; the trial's clone_kernel_ns {t['clone_kernel_ns']}")
            if "fault_all" in t["histograms"] and r["workload"] == "post-fork-access":
                checked["fault_cells"] += i == 0
                tracepoint = sum(t[k] for k in ("parent_faults", "child_faults") if k in t)
                if any(k in t for k in ("parent_faults", "child_faults")) and total(t, "fault_all") != tracepoint:
                    fail(f"{tw}: {total(t, 'fault_all')} faults timed, page_fault_user counted {tracepoint}")
                if "fault_plain" in t["histograms"]:
                    parts = sum(total(t, k) for k in ("fault_plain", "fault_page_copy", "fault_table_copy"))
                    if parts != total(t, "fault_all"):
                        fail(f"{tw}: the split holds {parts} faults, fault_all {total(t, 'fault_all')}")
                    # Each written page is copied once: by the first writer (with who=both
                    # the child; the parent then owns its page alone and reuses it).
                    if r["params"].get("op", "write") == "write" and \
                            total(t, "fault_page_copy") + total(t, "fault_table_copy") != t["pages_touched"]:
                        fail(f"{tw}: {total(t, 'fault_page_copy')} page-copy + {total(t, 'fault_table_copy')} table-copy faults, "
                             f"but {t['pages_touched']} pages were written after the fork")
            if "fault_table_copy" in t["histograms"]:
                n = total(t, "fault_table_copy")
                if r["mode"] == "fork" and n:
                    fail(f"{tw}: {n} table-copy faults under classic fork")
                if r["mode"] in ("odf", "odf-procfs") and r["workload"] == "post-fork-access":
                    checked["table_copy_cells"] += i == 0
                    full = r["params"]["size_bytes"] // MIB2 - 1  # whole tables inside an unaligned region
                    paper = doc["run"]["odf"].get("variant") == "paper-5.6"
                    calls = t.get("tfork_table_copies" if paper else "cpte_fault")
                    if n < full or (calls is not None and n > calls) or n > full + 2:
                        fail(f"{tw}: {n} table-copy faults; the region spans at least {full} whole tables, "
                             f"and copy_pte_range/tfork_one_pte_table ran {calls} times")
            fp = t.get("fork_phases")
            if fp:
                parts = fp["parts"]
                if any(v < 0 for v in parts.values()):
                    fail(f"{tw}: a negative fork phase {parts}")
                if sum(parts.values()) != fp["clone_ns"]:
                    fail(f"{tw}: phases sum to {sum(parts.values())}, the clone took {fp['clone_ns']}")
                if not fp["missing"]:
                    checked["phase_trials"] += 1
                elif expect_phases:
                    fail(f"{tw}: fork phases missing: {fp['missing']}")
        # the cell's quantiles against the trials' exact clone times
        if r["workload"] == "fork-latency" and "clone" in h["kinds"]:
            exact = [t["clone_kernel_ns"] for t in r["trials"] if "clone_kernel_ns" in t]
            s = h["kinds"]["clone"]["root"]
            if s["count"] != len(exact):
                fail(f"{cell}: the merged clone histogram has {s['count']} samples for {len(exact)} trials")
            for name, q in (("p50_ns", 0.5), ("p90_ns", 0.9), ("max_ns", 1.0)):
                x = quantile(exact, q)
                if abs(s[name] - x) > x * ERR + 0.5:
                    fail(f"{cell}: clone {name} {s[name]} from buckets, {x} exact: beyond the {ERR:.4f} bucket error")
        if expect_faults and r["workload"] == "post-fork-access":
            need = ["fault_all", "fault_plain", "fault_page_copy"] + (["fault_table_copy"] if r["mode"] != "fork" else [])
            for k in need:
                if k not in h["kinds"]:
                    fail(f"{cell}: histogram {k} absent: {h['missing'].get(k, 'no reason')}")
    if not checked["cells"]:
        fail("no ok cell to check")
    for f in failures:
        print("FAIL:", f)
    print(f"check_histograms: {checked}; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
