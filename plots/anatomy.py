#!/usr/bin/python3
"""Fork and fault anatomy (issue #24), from the probes' latency histograms and
fork phases: where the time goes, not only how much there is.

- fault_latency_cdf: the CDF of user-fault latency per workload cell, one
  curve per kernel, mode and process role; ODF's table-copy faults drawn
  apart (dashed), so their place in the tail shows.
- fork_phases: one fork split into the kernel's phases (copy_page_range,
  __pte_alloc, anon_vma_fork, the rest of dup_mm, the rest of the clone),
  median per phase over trials, per footprint, mode and kernel.

make_figures.py calls both.  Quantiles and CDF steps are bucket bounds:
within 1/32 of the true value (bpf/odfbench.h).
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odfplots as op  # noqa: E402

FAULT_WORKLOADS = ("post-fork-access", "snapshot", "redis-snapshot")
PHASES = [("copy_page_range", "copy_page_range (less __pte_alloc)", "#1f77b4"),
          ("pte_alloc", "page-table allocation (__pte_alloc)", "#aec7e8"),
          ("anon_vma_fork", "anon_vma_fork", "#2ca02c"),
          ("dup_mm_other", "rest of dup_mm", "#98df8a"),
          ("clone_other", "rest of the clone", "#c7c7c7")]
MODE_STYLE = {"fork": "#333333", "odf": "#1f77b4", "odf-procfs": "#17becf"}


def cdf_points(buckets):
    """(x, y) steps: the fraction of samples at or below each bucket's upper bound."""
    total = sum(b[2] for b in buckets)
    xs, ys, seen = [], [], 0
    for lo, hi, n in sorted(buckets):
        seen += n
        xs.append(hi / 1e3)
        ys.append(seen / total)
    return xs, ys


def hist_cells(runs):
    out = []
    for path, doc in runs:
        label = op.run_label(path, doc)
        for r in doc["results"]:
            if r["workload"] in FAULT_WORKLOADS and r["status"] == "ok" and "fault_all" in (r.get("histograms") or {}).get("kinds", {}):
                out.append((label, r))
    return out


def fault_latency_cdf(runs, outdir, written, finish, machine_text, tcg_warning):
    cs = hist_cells(runs)
    if not cs:
        missing = sorted({r["histograms"]["missing"].get("fault_all", "")[:120] for _, d in runs for r in d["results"]
                          if r["workload"] in FAULT_WORKLOADS and r["status"] == "ok" and r.get("histograms")})
        return "no cell with fault-latency histograms" + (f" ({'; '.join(m for m in missing if m)})" if missing else "")
    groups = {}
    for label, r in cs:
        groups.setdefault((r["workload"], r["params"].get("size", "?")), []).append((label, r))
    keys = sorted(groups, key=lambda k: (k[0], op.size_bytes(k[1])))
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4.2), squeeze=False)
    multi = len({lbl for lbl, _ in cs}) > 1
    ns = []
    for ax, key in zip(axes[0], keys):
        for i, (label, r) in enumerate(groups[key]):
            kinds = r["histograms"]["kinds"]
            color = MODE_STYLE.get(r["mode"], "C%d" % i)
            for role, ls_role in (("root", "-"), ("descendants", ":")):
                h = kinds["fault_all"].get(role)
                if not h or not h["count"]:
                    continue
                ns.append(h["count"])
                name = f"{r['mode']} {role}" + (f" — {label}" if multi else "")
                ax.plot(*cdf_points(h["buckets"]), ls_role, color=color, drawstyle="steps-post",
                        label=f"{name}: p99 {h['p99_ns'] / 1e3:.0f} µs, p99.9 {h['p999_ns'] / 1e3:.0f} µs (n={h['count']})")
                tc = kinds.get("fault_table_copy", {}).get(role)
                if tc and tc["count"]:
                    ax.plot(*cdf_points(tc["buckets"]), "--", color=color, alpha=0.7, drawstyle="steps-post",
                            label=f"{name}, table-copy faults only: p50 {tc['p50_ns'] / 1e3:.0f} µs (n={tc['count']})")
        ax.set_xscale("log")
        ax.set_xlabel("fault latency, handle_mm_fault entry to exit (µs, log)")
        ax.set_ylabel("fraction of faults at or below")
        ax.set_title(f"{key[0]} {key[1]}: user faults")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5, loc="lower right")
    windows = sorted({w for _, r in cs for w in r["histograms"].get("fault_windows", [])})
    finish(fig, "fault_latency_cdf", outdir, written,
           "User page-fault latency as a CDF, merged over a cell's trials (root: the process that forked; descendants: its "
           f"children). Faults timed in the windows: {', '.join(windows)} (access: only the measured accesses after fork). "
           f"Dashed: faults that copied a page table on demand (ODF). {min(ns)}–{max(ns)} faults per curve. "
           "Bucket bounds are within 1/32 of the true latency. " + machine_text(runs),
           [tcg_warning(runs)])
    return None


def fork_phases(runs, outdir, written, finish, machine_text, tcg_warning):
    bars, missing, unmeasured = [], set(), []
    for path, doc in runs:
        label = op.run_label(path, doc)
        for r in doc["results"]:
            if r["workload"] != "fork-latency" or r["status"] != "ok" or r["params"].get("thp"):
                continue
            fps = sorted((t["fork_phases"] for t in r.get("trials", []) if t.get("fork_phases")), key=lambda fp: fp["clone_ns"])
            if not fps:
                continue
            missing.update(f"{k}: {v[:100]}" for k, v in fps[0]["missing"].items())
            if not fps[0]["measured"]:
                unmeasured.append(f"{r['params'].get('size', '?')} {r['mode']} on {label}")
                continue
            # the trial with the median clone: its parts add up to its clone exactly
            mid = fps[(len(fps) - 1) // 2]
            bars.append({"label": label, "mode": r["mode"], "size": r["params"].get("size", "?"), "n": len(fps),
                         "parts": mid["parts"], "clone": mid["clone_ns"]})
    if not bars:
        return ("no fork-latency cell with fork phases measured" +
                (": " + "; ".join(sorted(missing)) if missing else ""))
    bars.sort(key=lambda b: (b["label"], op.size_bytes(b["size"]), op.mode_rank(b["mode"])))
    labels = sorted({b["label"] for b in bars})
    multi = len(labels) > 1
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(8, 1.1 * len(bars) * 2), 4.6))
    xs = range(len(bars))
    for a, frac in ((ax, False), (ax2, True)):
        bottom = [0.0] * len(bars)
        for key, name, color in PHASES:
            vals = [b["parts"].get(key, 0) / (b["clone"] if frac else 1e6) for b in bars]
            a.bar(xs, vals, bottom=bottom, color=color, label=name, edgecolor="white", linewidth=0.5)
            bottom = [x + y for x, y in zip(bottom, vals)]
        a.set_xticks(list(xs))
        a.set_xticklabels([f"{b['size']}\n{b['mode']}" + (f"\nk{labels.index(b['label'])}" if multi else "") for b in bars], fontsize=7)
    ax.set_ylabel("ms (the trial with the median clone)")
    ax.set_title("One fork, by kernel phase")
    ax2.set_ylabel("fraction of the clone")
    ax2.set_title("The same, as fractions")
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    n = sorted({b["n"] for b in bars})
    finish(fig, "fork_phases", outdir, written,
           "fork-latency: one clone split into phases measured in the kernel (fentry/fexit or kprobes inside the clone "
           "syscall): copy_page_range per VMA less its __pte_alloc calls, __pte_alloc, anon_vma_fork, the rest of dup_mm, "
           f"and the rest of the clone (the remainder). Each bar is the trial with the median clone time of {n[0]}–{n[-1]}, "
           "so its parts add up to its clone. " +
           ("Kernels: " + "; ".join(f"k{i} = {lbl}" for i, lbl in enumerate(labels)) + ". " if multi else "") +
           ("No phase measured for " + ", ".join(unmeasured) + ". " if unmeasured else "") +
           ("Not measured here: " + "; ".join(sorted(missing)) + ". " if missing else "") + machine_text(runs),
           [tcg_warning(runs)])
    return None


def _us(v):
    return "" if v is None else f"{v / 1e3:.1f}"


def fault_numbers(runs):
    """The report's table under fault_latency_cdf: every histogram of every cell."""
    head = ["kernel", "workload", "size", "mode", "faults", "process", "n", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs",
            "bucket error"]
    rows = []
    for label, r in hist_cells(runs):
        h = r["histograms"]
        for kind in ("fault_all", "fault_plain", "fault_page_copy", "fault_table_copy"):
            for role, s in h["kinds"].get(kind, {}).items():
                if s["count"]:
                    rows.append([label, r["workload"], r["params"].get("size", "?"), r["mode"], kind, role, str(s["count"])] +
                                [_us(s.get(q)) for q in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns")] +
                                [f"±{h['relative_error'] * 100:.1f}%"])
    return head, rows


def phase_numbers(runs):
    """The report's table under fork_phases: each cell's median-clone trial, part by part."""
    head = ["kernel", "size", "mode", "trials", "clone"] + [name for _, name, _ in PHASES] + ["not measured"]
    rows = []
    for path, doc in runs:
        label = op.run_label(path, doc)
        for r in doc["results"]:
            fps = sorted((t["fork_phases"] for t in r.get("trials", []) if t.get("fork_phases")), key=lambda fp: fp["clone_ns"])
            if r["workload"] != "fork-latency" or r["status"] != "ok" or not fps:
                continue
            mid = fps[(len(fps) - 1) // 2]
            rows.append([label, r["params"].get("size", "?"), r["mode"], str(len(fps)), _us(mid["clone_ns"]) + " µs"] +
                        [(_us(mid["parts"][k]) + " µs") if k in mid["parts"] else "" for k, _, _ in PHASES] +
                        ["; ".join(f"{k}: {v}" for k, v in mid["missing"].items())])
    return head, rows


NUMBERS = {"fault_latency_cdf": fault_numbers, "fork_phases": phase_numbers}
