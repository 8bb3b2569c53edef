#!/usr/bin/python3
"""Every figure the given results support, as PNG and SVG.

    /usr/bin/python3 plots/make_figures.py -o plots results/a.json [results/b.json ...]

A figure whose data is absent is skipped with the reason; a run without ODF
still plots its fork data and says on the figure that ODF was not measured.
Each kernel (results file) has its own color family, each mode its marker and
line style; every figure's caption states n, the interval method and the
machine.  plots/report.py reuses these functions for `odfbench report`.
"""
import argparse
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text: searchable, editable
matplotlib.rcParams["svg.hashsalt"] = "odfbench"  # stable ids: identical inputs, identical SVG
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odfplots as op  # noqa: E402
from landscape import landscape  # noqa: E402  (issue #15: one figure per workload, every strategy)
import anatomy  # noqa: E402  (issue #24: fault-latency CDFs and fork phases)

CI_METHOD = ("Error bars: 95% interval of the median from order statistics (distribution-free, "
             "as harness/base/stats.cpp).")
CI_MISSING = "Hollow markers / hatched bars: interval not defined (n below {min_n}{per})."

# What the last call of each figure function said about its figure(s): name ->
# (caption: what, n, interval method, machine; [warnings]).  report.py reads it and,
# setting CAPTION_IN_FIGURE False, prints them beside the figure instead of in it.
CAPTIONS = {}
CAPTION_IN_FIGURE = True


def n_text(cs, metric):
    """'n = 5' or 'n = 5-10' trials per point, over the cells that have the metric."""
    ns = sorted({op.n_of(c, metric) for c in cs if op.values(c, metric)})
    if not ns:
        return "n = 0"
    return f"n = {ns[0]} trials per point" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]} trials per point"


def machine_text(runs, labels=None):
    """Where each plotted run ran; a TCG run says its absolute times are not bare-metal."""
    parts = []
    for path, doc in runs:
        lbl = op.run_label(path, doc)
        if labels is not None and lbl not in labels:
            continue
        env = op.environment(doc)
        parts.append(f"{lbl}: {env}")
    return "Machines: " + "; ".join(parts) + "." if parts else ""


def tcg_warning(runs, labels=None):
    tcg = [op.run_label(p, d) for p, d in runs if op.accelerator(d) == "tcg" and (labels is None or op.run_label(p, d) in labels)]
    if not tcg:
        return None
    return ("QEMU TCG (software CPU emulation) for " + ", ".join(tcg) +
            ": absolute times are not bare-metal; compare ratios, not milliseconds.")


def finish(fig, name, outdir, written, caption, warnings=()):
    """Caption (grey: what, n, interval, machine) and warnings (red) under the
    figure, saved as PNG and SVG, closed; the caption is kept for the report."""
    warnings = [w for w in warnings if w]
    CAPTIONS[name] = (caption, warnings)
    if not CAPTION_IN_FIGURE:
        op.save(fig, outdir, name, written)
        plt.close(fig)
        return
    width_chars = int(fig.get_figwidth() * 15)
    renderer = fig.canvas.get_renderer()
    y = -0.01
    for text, color, box in [(caption, "#333333", None)] + [(w, "#a00000", dict(boxstyle="round", fc="#fff4f4", ec="#a00000", lw=0.5))
                                                           for w in warnings]:
        t = fig.text(0.01, y, "\n".join(textwrap.wrap(text, width_chars)), fontsize=8, color=color, va="top", ha="left",
                     bbox=box)
        # the next text starts under this one, whatever its number of lines
        y -= t.get_window_extent(renderer).height / fig.bbox.height + 0.02
    op.save(fig, outdir, name, written)
    plt.close(fig)


def ci_caption(no_ci, min_n, per=""):
    return CI_METHOD + (" " + CI_MISSING.format(min_n=min_n, per=per) if no_ci else "")


def plot_with_ci(ax, pts, style, label):
    """A series of (x, y, lo, hi): line and markers, error bars where the interval
    exists, hollow markers where it does not.  True if some point has none."""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    ax.plot(xs, ys, label=label, **style)
    ci = [p for p in pts if p[2] is not None and p[3] is not None]
    if ci:
        ax.errorbar([p[0] for p in ci], [p[1] for p in ci], yerr=[[p[1] - p[2] for p in ci], [p[3] - p[1] for p in ci]],
                    fmt="none", ecolor=style["color"], capsize=3)
    bare = [p for p in pts if p[2] is None or p[3] is None]
    if bare:
        ax.plot([p[0] for p in bare], [p[1] for p in bare], marker=style["marker"], linestyle="none",
                markerfacecolor="white", markeredgecolor=style["color"], markeredgewidth=1.5, zorder=3)
    return bool(bare)


def series_label(label, mode, multi):
    return f"{mode} — {label}" if multi else mode


def no_ci_legend(ax):
    ax.plot([], [], marker="o", linestyle="none", markerfacecolor="white", markeredgecolor="#444444", label=op.NO_CI_NOTE)


def size_axis(axis):
    """A log2 footprint axis labelled as sizes (64M, 256M, 1G, ...), one tick per factor of 4."""
    axis.set_major_locator(LogLocator(base=4))
    axis.set_major_formatter(FuncFormatter(lambda v, _: op.size_label(v)))
    axis.set_minor_formatter(NullFormatter())


def footprint_axes(ax, ylabel, title):
    ax.set_xscale("log", base=2)
    size_axis(ax.xaxis)
    ax.set_yscale("log")
    ax.set_xlabel("footprint (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def published_marks(ax, pts, marker, label):
    """Published numbers: black, large, labelled as published, never joined to our series."""
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker, color=op.PUBLISHED_COLOR, markersize=10, mew=2,
            linestyle="none", label=label)


def fork_latency(runs, outdir, written):
    st = op.Styles(runs)
    cs = [c for c in op.cells(runs, "fork-latency") if not c["params"].get("thp")]
    if not any(c["status"] == "ok" for c in cs):
        return "no fork-latency results"
    labels = {c["label"] for c in cs}
    multi = len(labels) > 1
    groups = {}
    for c in cs:
        if c["status"] == "ok":
            groups.setdefault((c["label"], c["mode"]), []).append(c)
    ok = [c for c in cs if c["status"] == "ok"]
    where = machine_text(runs, labels)
    tcg = tcg_warning(runs, labels)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    no_ci = False
    for (label, mode), g in sorted(groups.items(), key=lambda kv: (st.labels.index(kv[0][0]), op.mode_rank(kv[0][1]))):
        g.sort(key=lambda c: c["bytes"])
        pts = [(c["bytes"],) + s for c in g if (s := op.summary_ci(c, "fork_ns", 1e6))]  # ms
        if pts:
            no_ci |= plot_with_ci(ax, pts, st.of(label, mode), series_label(label, mode, multi))
    published_marks(ax, sorted(op.PAPER["fork_ms"].items()), "x", "published (paper): fork")
    published_marks(ax, sorted(op.PAPER["odf_ms"].items()), "+", "published (paper): ODF")
    if no_ci:
        no_ci_legend(ax)
    footprint_axes(ax, "fork latency (ms, log scale)", "Fork latency against footprint")
    finish(fig, "fork_latency", outdir, written,
           f"Wall time of the fork call in the parent (fork_ns), median per cell; {n_text(ok, 'fork_ns')}. "
           f"{ci_caption(no_ci, op.MIN_N_95)} Black marks: the paper's published numbers (bare metal), not ours. {where}",
           [op.unmeasured_note(cs), tcg])

    # speedup: fork over each ODF mode, per run
    fig, ax = plt.subplots(figsize=(7, 4.5))
    any_line = no_ci = False
    for label in st.labels:
        fork = {c["bytes"]: c for c in ok if c["label"] == label and c["mode"] == "fork"}
        for mode in ("odf", "odf-procfs"):
            pts = []
            for c in ok:
                if c["label"] == label and c["mode"] == mode and c["bytes"] in fork:
                    s = op.speedup(op.values(fork[c["bytes"]], "fork_ns"), op.values(c, "fork_ns"))
                    if s:
                        pts.append((c["bytes"],) + s)
            if pts:
                pts.sort()
                any_line = True
                no_ci |= plot_with_ci(ax, pts, st.of(label, mode), series_label(label, mode, multi))
    published_marks(ax, [(b, op.PAPER["fork_ms"][b] / op.PAPER["odf_ms"][b]) for b in sorted(op.PAPER["fork_ms"])], "x",
                    "published (paper): fork/ODF")
    ax.axhline(1, color="#999999", lw=0.8)
    if no_ci:
        no_ci_legend(ax)
    footprint_axes(ax, "speedup: fork latency / ODF latency (x)", "ODF speedup of the fork call")
    finish(fig, "speedup", outdir, written,
           f"Ratio of median fork_ns, fork over ODF, same kernel and size; {n_text(ok, 'fork_ns')} per side. "
           f"{ci_caption(no_ci, op.MIN_N_SPEEDUP, ' per side')} The ratio's 95% interval combines 97.5% median "
           f"intervals of both sides. Black marks: published (paper). {where}",
           [None if any_line else op.unmeasured_note(cs), tcg])

    # child page tables right after fork
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (label, mode), g in sorted(groups.items(), key=lambda kv: (st.labels.index(kv[0][0]), op.mode_rank(kv[0][1]))):
        g.sort(key=lambda c: c["bytes"])
        pts = [(c["bytes"], op.median(op.values(c, "child_pgtables_bytes")) / 1024) for c in g if op.values(c, "child_pgtables_bytes")]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=series_label(label, mode, multi), **st.of(label, mode))
    pk = op.PAPER["child_pgtables_kb_1g"]
    published_marks(ax, [(1 << 30, pk["fork"]), (1 << 30, pk["odf"])], "x", "published (patch set README): 1G fork / ODF")
    footprint_axes(ax, "child page-table memory at fork (KiB, log)", "Page tables the child gets at fork")
    finish(fig, "child_pgtables", outdir, written,
           f"mm->pgtables_bytes of the child at sched_process_fork (BPF), median per cell; "
           f"{n_text(ok, 'child_pgtables_bytes')}; the counts barely vary, so no interval is drawn. {where}",
           [op.unmeasured_note(cs)])
    return None


def bar_with_ci(ax, x, width, s, color, hatch_color=None, **kw):
    """One bar of (median, lo, hi): error bar if the interval exists, else hatched. True if hatched."""
    m, lo, hi = s
    if lo is None:
        ax.bar([x], [m], width=width, color="white", edgecolor=color, hatch="//", linewidth=1.5, **kw)
        return True
    ax.bar([x], [m], width=width, color=color, yerr=[[m - lo], [hi - m]], capsize=2, ecolor="#222222", **kw)
    return False


def grouped_by_size(cs, st):
    """x layout for bar panels: one group per size, one bar per (kernel, mode) in it.
    Returns [(x, cell)], [(group centre, size label)], bar width."""
    sizes = sorted({c["bytes"] for c in cs})
    keys = sorted({(c["label"], c["mode"]) for c in cs}, key=lambda k: (st.labels.index(k[0]), op.mode_rank(k[1])))
    w = 0.8 / max(1, len(keys))
    xs = []
    for i, b in enumerate(sizes):
        for j, k in enumerate(keys):
            for c in cs:
                if c["bytes"] == b and (c["label"], c["mode"]) == k:
                    xs.append((i - 0.4 + w * (j + 0.5), c))
    return xs, [(i, op.size_label(b)) for i, b in enumerate(sizes)], w


def legend_for(ax, st, keys, multi, **kw):
    from matplotlib.patches import Patch
    handles = [Patch(facecolor=st.color(lbl, m), label=series_label(lbl, m, multi)) for lbl, m in keys]
    ax.legend(handles=handles, fontsize=8, **kw)


def post_fork_access(runs, outdir, written):
    st = op.Styles(runs)
    all_cs = op.cells(runs, "post-fork-access")
    cs = [c for c in all_cs if c["status"] == "ok"]
    if not cs:
        return "no post-fork-access results"
    labels = {c["label"] for c in cs}
    multi = len(labels) > 1
    xs, groups, w = grouped_by_size(cs, st)
    keys = []
    for _, c in xs:
        if (c["label"], c["mode"]) not in keys:
            keys.append((c["label"], c["mode"]))
    # Three panels, each on its own scale: a fork of milliseconds next to seconds
    # of faults would vanish in one stacked bar.
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    no_ci = False
    panels = (("fork_ns", 1e6, "fork call (ms)", "The fork"),
              ("fault_phase", 1e9, "access phase after fork (s)", "The faults that follow"),
              ("ns_per_fault", 1e3, "per fault (µs)", "Cost per fault"))
    for ax, (metric, scale, ylabel, title) in zip(axes, panels):
        for x, c in xs:
            color = st.color(c["label"], c["mode"])
            if metric == "fault_phase":
                # child and parent access phases stacked; medians (their sum has no harness interval)
                child = op.summary_ci(c, "child_access_ns", scale)
                parent = op.summary_ci(c, "parent_access_ns", scale)
                if child:
                    no_ci |= bar_with_ci(ax, x, w, child, color)
                if parent:
                    ax.bar([x], [parent[0]], width=w, bottom=[child[0] if child else 0], color=color, alpha=0.45,
                           edgecolor=color)
            else:
                s = op.summary_ci(c, metric, scale)
                if s:
                    no_ci |= bar_with_ci(ax, x, w, s, color)
        ax.set_xticks([g[0] for g in groups])
        ax.set_xticklabels([g[1] for g in groups])
        ax.set_xlabel("footprint")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, axis="y", alpha=0.3)
    if any(op.values(c, "parent_access_ns") for c in cs):
        axes[1].text(0.02, 0.98, "solid: child's accesses\npale, stacked: parent's", transform=axes[1].transAxes,
                     fontsize=7, va="top")
    legend_for(axes[2], st, keys, multi, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.suptitle("Post-fork access: the fork, the faults that follow, and the cost per fault")
    fig.tight_layout()
    # bars side by side are only alike if the access pattern is: say so when it is not
    pattern = {}
    for c in cs:
        pattern.setdefault(c["label"], ", ".join(f"{k}={v}" for k, v in sorted(c["params"].items())) or "defaults")
    differ = (" Access parameters differ between runs (" + "; ".join(f"{k}: {v}" for k, v in pattern.items()) + ")."
              if len(set(pattern.values())) > 1 else "")
    finish(fig, "post_fork_access", outdir, written,
           f"Per cell (kernel, size, mode): fork_ns; child_access_ns (+ parent_access_ns when the parent also "
           f"writes); ns_per_fault = access time / faults taken.{differ} Medians; {n_text(cs, 'fork_ns')}. "
           f"{ci_caption(no_ci, op.MIN_N_95)} {machine_text(runs, labels)}",
           [op.unmeasured_note(all_cs), tcg_warning(runs, labels)])
    return None


TABLE_KINDS = {
    # (phase, counter label): (workload, metric, which modes)
    "at fork": [("shared (est.)", "#9ecae1", "fork-latency", "tables_shared_est", ("odf", "odf-procfs")),
                ("copied", "#e6550d", "fork-latency", "cpte_fork", None)],
    "in the faults after fork": [("copied on demand", "#31a354", "post-fork-access", None, None),
                                 ("reused", "#756bb1", "post-fork-access", "handle_cow_pte_reused", None)],
}


def on_demand_metric(c):
    """6.0.6 counts on-demand copies as cpte_fault, the paper kernel as tfork_table_copies."""
    return "tfork_table_copies" if op.values(c, "tfork_table_copies") and not op.values(c, "cpte_fault") else "cpte_fault"


def table_copy(runs, outdir, written):
    """Small multiples: one row of panels per kernel, one column per phase; sizes on x,
    a bar per mode, stacked by what happened to the PTE tables."""
    st = op.Styles(runs)
    fl = [c for c in op.cells(runs, "fork-latency") if c["status"] == "ok" and not c["params"].get("thp")]
    pa = [c for c in op.cells(runs, "post-fork-access") if c["status"] == "ok"]
    has = lambda c, m: bool(op.values(c, m))  # noqa: E731
    at_fork = [c for c in fl if has(c, "cpte_fork")]
    after = [c for c in pa if has(c, "cpte_fault") or has(c, "tfork_table_copies")]
    kernels = [lbl for lbl in st.labels if any(c["label"] == lbl for c in at_fork + after)]
    if not kernels:
        return "no table counters (copy_pte_range/handle_cow_pte probes need an ODF 6.0.6 or 5.6.19 kernel)"
    phases = [p for p, cs in (("at fork", at_fork), ("in the faults after fork", after)) if cs]
    fig, axes = plt.subplots(len(kernels), len(phases), figsize=(5.2 * len(phases) + 1.6, 3.4 * len(kernels)), squeeze=False)
    med = lambda c, m: op.median(op.values(c, m)) if m and op.values(c, m) else 0  # noqa: E731
    for r, lbl in enumerate(kernels):
        for col, phase in enumerate(phases):
            ax = axes[r][col]
            cs = [c for c in (at_fork if phase == "at fork" else after) if c["label"] == lbl]
            ax.set_title(f"{lbl}\n{phase}", fontsize=9, color=st.color(lbl, "odf"))
            if not cs:
                ax.text(0.5, 0.5, "not measured on this kernel" if phase == "at fork" else
                        "no post-fork-access run with table counters", ha="center", va="center", transform=ax.transAxes,
                        fontsize=8, color="#a00000")
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            sizes = sorted({c["bytes"] for c in cs})
            modes = sorted({c["mode"] for c in cs}, key=op.mode_rank)
            w = 0.8 / len(modes)
            ticks, ticklabels, drawn = [], [], set()
            for i, b in enumerate(sizes):
                for j, mode in enumerate(modes):
                    c = next((c for c in cs if c["bytes"] == b and c["mode"] == mode), None)
                    x = i - 0.4 + w * (j + 0.5)
                    ticks.append(x)
                    ticklabels.append(mode.replace("odf-procfs", "procfs"))
                    if c is None:
                        continue
                    bottom, copied = 0, 0
                    for name, color, _, metric, only in TABLE_KINDS[phase]:
                        if only and mode not in only:
                            continue
                        v = med(c, metric or on_demand_metric(c))
                        if name.startswith("copied"):
                            copied = v
                        ax.bar([x], [v], bottom=[bottom], width=w * 0.9, color=color, edgecolor="white", linewidth=0.5,
                               label=name if name not in drawn else None)
                        drawn.add(name)
                        bottom += v
                    # the copies are the point, and a few copies vanish on a stack of hundreds
                    ax.text(x, bottom, f"{copied:.0f}", ha="center", va="bottom", fontsize=7, color="#a63603")
            ax.set_xticks(ticks)
            ax.set_xticklabels(ticklabels, fontsize=7, rotation=90)
            for i, b in enumerate(sizes):
                ax.text(i, -0.32, op.size_label(b), ha="center", va="top", fontsize=9, fontweight="bold",
                        transform=ax.get_xaxis_transform())
            ax.set_xlim(-0.5, len(sizes) - 0.5)
            ax.set_ylabel("PTE tables (median count)", fontsize=8)
            ax.grid(True, axis="y", alpha=0.3)
            ax.margins(y=0.12)
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Page-table (PTE table) work: shared or copied at fork, copied or reused in later faults")
    fig.tight_layout()
    ns = n_text(at_fork, "cpte_fork") if at_fork else n_text(after, "cpte_fault")
    finish(fig, "table_copy", outdir, written,
           "One row per kernel. At fork (fork-latency): tables copied by copy_pte_range (BPF) and, for ODF modes, "
           "tables shared, estimated as (parent - child) page-table bytes / 4 KiB. After fork (post-fork-access): "
           "tables copied on demand (cpte_fault; tfork_table_copies on the paper kernel) and reused without a copy "
           f"(handle_cow_pte returning 1). Number above a bar: tables copied (at fork, or on demand). Medians; {ns}; counts, no interval drawn. "
           f"{machine_text(runs, set(kernels))}",
           [])
    return None


def redis(runs, outdir, written):
    st = op.Styles(runs)
    cs = [c for c in op.cells(runs, "redis-snapshot") if c["status"] == "ok" and any("latency_series" in t for t in c["trials"])]
    if not cs:
        return "no redis-snapshot results"
    labels = {c["label"] for c in cs}
    multi = len(labels) > 1
    sizes = sorted({c["bytes"] for c in cs})
    widths = [1.6, 0.9, 0.6]  # a line width per size, so sizes of one (kernel, mode) stay apart
    fig, ax = plt.subplots(figsize=(8, 4.5))
    fig2, ax2 = plt.subplots(figsize=(6.5, 4.5))
    for c in sorted(cs, key=lambda c: (st.labels.index(c["label"]), op.mode_rank(c["mode"]), c["bytes"])):
        t = next(t for t in c["trials"] if "latency_series" in t)
        xs = [p[0] / 1e6 for p in t["latency_series"]]
        ys = [p[1] / 1e3 for p in t["latency_series"]]
        style = st.of(c["label"], c["mode"])
        lbl = f"{c['mode']} {c['size']}" + (f" — {c['label']}" if multi else "")
        lw = widths[sizes.index(c["bytes"]) % len(widths)]
        ax.plot(xs, ys, lw=lw, color=style["color"], linestyle=style["linestyle"], marker=style["marker"], markevery=12,
                markersize=4, label=lbl)
        w = t["snapshot_window_ns"]
        ax.axvspan(w[0] / 1e6, w[1] / 1e6, color=style["color"], alpha=0.08)
        inside = sorted(y for x, y in zip(xs, ys) if w[0] / 1e6 <= x <= w[1] / 1e6)
        if inside:
            ax2.step(inside, [(i + 1) / len(inside) for i in range(len(inside))], where="post", lw=lw, color=style["color"],
                     linestyle=style["linestyle"], label=lbl)
    ntr = n_text(cs, "latest_fork_usec").replace(" per point", "")
    cap = (f"Open-loop GET/SET load on redis-server; worst latency per time bucket, from the first trial of each cell "
           f"(one trace, so no interval); each cell ran {ntr}. Shaded: the BGSAVE child's lifetime. "
           f"{machine_text(runs, labels)}")
    ax.set_yscale("log")
    ax.set_xlabel("time since BGSAVE (ms)")
    ax.set_ylabel("request latency (µs, worst per bucket)")
    ax.set_title("Redis client latency around a BGSAVE snapshot")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    finish(fig, "redis_latency", outdir, written, cap, [op.unmeasured_note(op.cells(runs, "redis-snapshot")), tcg_warning(runs, labels)])
    ax2.set_xscale("log")
    ax2.set_xlabel("request latency during the snapshot (µs, worst per bucket)")
    ax2.set_ylabel("fraction of buckets (CDF)")
    ax2.set_title("Redis latency CDF during BGSAVE")
    ax2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    finish(fig2, "redis_latency_cdf", outdir, written, cap, [op.unmeasured_note(op.cells(runs, "redis-snapshot"))])
    return None


def fuzz(runs, outdir, written):
    st = op.Styles(runs)
    cs = [c for c in op.cells(runs, "fuzz") if c["status"] == "ok" and op.summary_ci(c, "execs_per_s")]
    if not cs:
        return "no fuzz execs_per_s values"
    labels = {c["label"] for c in cs}
    multi = len(labels) > 1
    cs.sort(key=lambda c: (st.labels.index(c["label"]), c["setup"].get("driver", "?"), c["bytes"], op.mode_rank(c["mode"])))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(cs)), 4.5))
    no_ci = False
    for i, c in enumerate(cs):
        no_ci |= bar_with_ci(ax, i, 0.6, op.summary_ci(c, "execs_per_s"), st.color(c["label"], c["mode"]))
    ax.set_xticks(range(len(cs)))
    ax.set_xticklabels([f"{c['size']} {c['mode']}\ndriver {c['setup'].get('driver', '?')}" for c in cs], fontsize=8)
    ax.set_ylabel("executions per second")
    ax.set_title("Fork-server fuzzing throughput (SQLite target)")
    # beside the axes, where it hides no bar or error bar
    ax.text(1.02, 0.0, f"published (paper): AFL on SQLite\n{op.PAPER['afl_sqlite_speedup']}x with ODF\n"
            f"published (patch set README):\n{op.PAPER['afl_sqlite_speedup_patchset']}x",
            transform=ax.transAxes, ha="left", va="bottom", fontsize=8, color=op.PUBLISHED_COLOR,
            bbox=dict(boxstyle="round", fc="white", ec="#888888", lw=0.5))
    keys = []
    for c in cs:
        if (c["label"], c["mode"]) not in keys:
            keys.append((c["label"], c["mode"]))
    legend_for(ax, st, keys, multi, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    finish(fig, "fuzz", outdir, written,
           f"execs_per_s of the fork-server loop, median per cell; {n_text(cs, 'execs_per_s')}. "
           f"{ci_caption(no_ci, op.MIN_N_95)} Published speedups are quoted as text, not plotted. {machine_text(runs, labels)}",
           [op.unmeasured_note(op.cells(runs, "fuzz")), tcg_warning(runs, labels)])
    return None


def fork_tests(runs, outdir, written):
    """The testing workload: tests per second, and per-test latency (median and p99 of each trial's
    distribution), per size and mode."""
    st = op.Styles(runs)
    cs = [c for c in op.cells(runs, "fork-tests") if c["status"] == "ok" and op.summary_ci(c, "tests_per_s")]
    if not cs:
        return "no fork-tests tests_per_s values"
    labels = {c["label"] for c in cs}
    multi = len(labels) > 1
    cs.sort(key=lambda c: (st.labels.index(c["label"]), c["bytes"], op.mode_rank(c["mode"])))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(8, 2.0 * len(cs)), 4.5))
    no_ci = False
    for i, c in enumerate(cs):
        color = st.color(c["label"], c["mode"])
        no_ci |= bar_with_ci(ax, i, 0.6, op.summary_ci(c, "tests_per_s"), color)
        # per-test latency: the median trial's p50 (bar) and p99 (marker)
        p50 = op.summary_ci(c, "test_p50_ns", 1e3)
        p99 = op.summary_ci(c, "test_p99_ns", 1e3)
        if p50:
            no_ci |= bar_with_ci(ax2, i, 0.6, p50, color)
        if p99 and p99[0] is not None:
            ax2.plot([i], [p99[0]], marker="_", markersize=18, color="black")
    ticks = [f"{c['size']}\n{c['mode']}" + (f"\n{c['label']}" if multi else "") for c in cs]
    for a in (ax, ax2):
        a.set_xticks(range(len(cs)))
        a.set_xticklabels(ticks, fontsize=8)
    ax.set_ylabel("tests per second")
    ax.set_title("Fork-per-test runner: throughput")
    ax2.set_ylabel("per-test latency (µs): bar p50, tick p99")
    ax2.set_title("Per-test latency (fork + test + reap)")
    keys = []
    for c in cs:
        if (c["label"], c["mode"]) not in keys:
            keys.append((c["label"], c["mode"]))
    legend_for(ax2, st, keys, multi, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    finish(fig, "fork_tests", outdir, written,
           f"fork-tests: a runner holding a fixture of `size` forks one child per test; tests_per_s and the per-trial "
           f"p50/p99 of per-test latency, median over trials; {n_text(cs, 'tests_per_s')}. "
           f"{ci_caption(no_ci, op.MIN_N_95)} {machine_text(runs, labels)}",
           [op.unmeasured_note(op.cells(runs, "fork-tests")), tcg_warning(runs, labels)])
    return None


def fault_latency_cdf(runs, outdir, written):
    return anatomy.fault_latency_cdf(runs, outdir, written, finish, machine_text, tcg_warning)


def fork_phases(runs, outdir, written):
    return anatomy.fork_phases(runs, outdir, written, finish, machine_text, tcg_warning)


FIGURES = [fork_latency, post_fork_access, table_copy, redis, fuzz, fork_tests, fault_latency_cdf, fork_phases, landscape]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--outdir", default="plots")
    ap.add_argument("results", nargs="+")
    a = ap.parse_args()
    for p in a.results:
        if not os.path.isfile(p):
            sys.exit(f"make_figures: {p}: no such results file")
    os.makedirs(a.outdir, exist_ok=True)
    runs = op.load(a.results)
    written = []
    for f in FIGURES:
        why = f(runs, a.outdir, written)
        if why:
            print(f"skipped {f.__name__}: {why}")
    for p in written:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
