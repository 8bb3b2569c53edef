#!/usr/bin/python3
"""Every figure the given results support, as PNG and SVG.

    /usr/bin/python3 plots/make_figures.py -o plots results/a.json [results/b.json ...]

A figure whose data is absent is skipped with the reason; a run without ODF
still plots its fork data and says on the figure that ODF was not measured.
"""
import argparse
import textwrap
import os
import sys

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text: searchable, editable
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odfplots as op  # noqa: E402
from landscape import landscape  # noqa: E402  (issue #15: one figure per workload, every strategy)

GIB = 1 << 30


def note(ax, text):
    """A red caption under the axes, where it hides no data point."""
    if text:
        text = "\n".join(textwrap.wrap(text, 90))
        ax.text(0.0, -0.16, text, transform=ax.transAxes, fontsize=8, color="#a00000", va="top",
                bbox=dict(boxstyle="round", fc="#fff4f4", ec="#a00000", lw=0.5))


def join_notes(*notes):
    return ". ".join(n for n in notes if n) or None


def no_ci_caption(no_ci, min_n, per="", what="Hollow markers"):
    """The caption for points drawn without an interval (no_ci), or None."""
    if not no_ci:
        return None
    return f"{what}: no 95% CI (n too small: fewer than {min_n} trials{per}, or a results file without intervals)."


def no_ci_legend(ax):
    ax.plot([], [], marker="o", linestyle="none", markerfacecolor="white", markeredgecolor="#444444", label=op.NO_CI_NOTE)


def plot_with_ci(ax, pts, marker, color, linestyle, label):
    """A series of (x, y, lo, hi): line and markers, error bars where the interval
    exists, hollow markers where it does not.  True if some point has none."""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    ax.plot(xs, ys, marker=marker, color=color, linestyle=linestyle, label=label)
    ci = [p for p in pts if p[2] is not None and p[3] is not None]
    if ci:
        ax.errorbar([p[0] for p in ci], [p[1] for p in ci], yerr=[[p[1] - p[2] for p in ci], [p[3] - p[1] for p in ci]],
                    fmt="none", ecolor=color, capsize=3)
    bare = [p for p in pts if p[2] is None or p[3] is None]
    if bare:
        ax.plot([p[0] for p in bare], [p[1] for p in bare], marker=marker, linestyle="none", color=color,
                markerfacecolor="white", markeredgecolor=color, markeredgewidth=1.5, zorder=3)
    return bool(bare)


def series_label(c, multi):
    return f"{c['mode']} — {c['label']}" if multi else c["mode"]


STYLES = ["-", "--", ":", "-."]


def run_style(labels, label):
    """One line style per run, so the same mode on two kernels stays apart."""
    return STYLES[sorted(labels).index(label) % len(STYLES)]


def legend_outside(ax):
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def finish_footprint_figure(fig, ax, ylabel, title, caption, outdir, name, written):
    """Log-log against footprint in GiB, legend outside, caption, saved and closed."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("footprint (GiB, log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    legend_outside(ax)
    note(ax, caption)
    op.save(fig, outdir, name, written)
    plt.close(fig)


def fork_latency(runs, outdir, written):
    cs = [c for c in op.cells(runs, "fork-latency") if not c["params"].get("thp")]
    if not any(c["status"] == "ok" for c in cs):
        return "no fork-latency results"
    multi = len({c["label"] for c in cs}) > 1
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups = {}
    for c in cs:
        if c["status"] == "ok":
            groups.setdefault((c["label"], c["mode"]), []).append(c)
    no_ci = False
    for (label, mode), g in sorted(groups.items()):
        g.sort(key=lambda c: c["bytes"])
        pts = []
        for c in g:
            s = op.summary_ci(c, "fork_ns", 1e6)  # the harness's median and 95% CI, in ms
            if s:
                pts.append((c["bytes"] / GIB,) + s)
        if pts:
            no_ci |= plot_with_ci(ax, pts, op.MARKERS.get(mode, "o"), op.COLORS.get(mode),
                                  run_style({c["label"] for c in cs}, label), series_label(g[0], multi))
    for key, style, name in (("fork_ms", "x", "paper: fork"), ("odf_ms", "+", "paper: ODF")):
        pts = sorted(op.PAPER[key].items())
        ax.plot([b / GIB for b, _ in pts], [v for _, v in pts], style, color="#2ca02c" if key == "odf_ms" else "#8c564b",
                markersize=10, mew=2, linestyle="none", label=name)
    if no_ci:
        no_ci_legend(ax)
    finish_footprint_figure(fig, ax, "fork latency (ms, log scale; median, 95% CI)", "Fork latency against footprint",
                            join_notes(op.unmeasured_note(cs), no_ci_caption(no_ci, op.MIN_N_95)), outdir, "fork_latency", written)

    # speedup: fork over each ODF mode, per run
    fig, ax = plt.subplots(figsize=(7, 4.5))
    any_line = False
    no_ci = False
    for label in sorted({c["label"] for c in cs}):
        fork = {c["bytes"]: c for c in cs if c["label"] == label and c["mode"] == "fork" and c["status"] == "ok"}
        for mode in ("odf", "odf-procfs"):
            pts = []
            for c in cs:
                if c["label"] == label and c["mode"] == mode and c["status"] == "ok" and c["bytes"] in fork:
                    s = op.speedup(op.values(fork[c["bytes"]], "fork_ns"), op.values(c, "fork_ns"))
                    if s:
                        pts.append((c["bytes"] / GIB, s))
            if pts:
                pts.sort()
                any_line = True
                no_ci |= plot_with_ci(ax, [(x,) + s for x, s in pts], op.MARKERS[mode], op.COLORS[mode],
                                      run_style({c["label"] for c in cs}, label), f"{mode} — {label}" if multi else mode)
    paper = [(b / GIB, op.PAPER["fork_ms"][b] / op.PAPER["odf_ms"][b]) for b in sorted(op.PAPER["fork_ms"])]
    ax.plot([p[0] for p in paper], [p[1] for p in paper], "x", color="#2ca02c", markersize=10, mew=2, linestyle="none",
            label="paper: fork/ODF")
    ax.axhline(1, color="#999999", lw=0.8)
    if no_ci:
        no_ci_legend(ax)
    finish_footprint_figure(fig, ax, "speedup: fork latency / ODF latency (x, 95% CI)", "ODF speedup of the fork call",
                            join_notes(None if any_line else op.unmeasured_note(cs), no_ci_caption(no_ci, op.MIN_N_SPEEDUP, " per side")),
                            outdir, "speedup", written)

    # child page tables right after fork
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (label, mode), g in sorted(groups.items()):
        g.sort(key=lambda c: c["bytes"])
        pts = [(c["bytes"] / GIB, op.median(op.values(c, "child_pgtables_bytes")) / 1024) for c in g if op.values(c, "child_pgtables_bytes")]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=op.MARKERS.get(mode, "o"), color=op.COLORS.get(mode),
                    linestyle=run_style({c["label"] for c in cs}, label), label=series_label(g[0], multi))
    pk = op.PAPER["child_pgtables_kb_1g"]
    ax.plot([1, 1], [pk["fork"], pk["odf"]], "x", color="#2ca02c", markersize=10, mew=2, linestyle="none",
            label="patch set: 1 GB fork / ODF")
    finish_footprint_figure(fig, ax, "child page-table memory at fork (KiB, median)", "Page tables the child gets at fork (mm->pgtables_bytes, BPF)", op.unmeasured_note(cs), outdir, "child_pgtables", written)
    return None


def post_fork_access(runs, outdir, written):
    cs = [c for c in op.cells(runs, "post-fork-access") if c["status"] == "ok"]
    if not cs:
        return "no post-fork-access results"
    cs.sort(key=lambda c: (c["label"], c["bytes"], op.MODES.index(c["mode"]) if c["mode"] in op.MODES else 9))
    multi = len({c["label"] for c in cs}) > 1
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(cs)), 4.5))
    names = []
    bottoms = [0.0] * len(cs)
    for part, color in (("fork_ns", "#444444"), ("child_access_ns", "#ff7f0e"), ("parent_access_ns", "#9467bd")):
        vals = [op.median(op.values(c, part)) / 1e6 if op.values(c, part) else 0 for c in cs]
        ax.bar(range(len(cs)), vals, bottom=bottoms, width=0.6, color=color, label=part.replace("_ns", ""))
        bottoms = [b + v for b, v in zip(bottoms, vals)]
    for c in cs:
        names.append(f"{c['size']}\n{c['mode']}" + (f"\n{c['label'][:18]}" if multi else ""))
    ax.set_xticks(range(len(cs)))
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("time (ms, medians stacked)")
    ax.set_title("Post-fork access: fork plus the faults that follow")
    ax.legend(fontsize=8)
    note(ax, op.unmeasured_note(op.cells(runs, "post-fork-access")))
    op.save(fig, outdir, "post_fork_access", written)
    plt.close(fig)
    return None


def table_copy(runs, outdir, written):
    rows = []
    for c in op.cells(runs, "fork-latency") + op.cells(runs, "post-fork-access"):
        if c["status"] != "ok":
            continue
        med = lambda m: op.median(op.values(c, m)) if op.values(c, m) else None  # noqa: E731
        access = c["workload"] == "post-fork-access"
        rows.append((c, {
            # fork-latency: what the fork did; post-fork-access: what the faults after it did
            "shared at fork (est.)": None if access or c["mode"] == "fork" else med("tables_shared_est"),
            "copied at fork": None if access else med("cpte_fork"),
            "copied on demand": med("cpte_fault") if access else None,
            "reused": med("handle_cow_pte_reused") if access else None,
        }))
    rows = [r for r in rows if any(v is not None for v in r[1].values())]
    keys = ["shared at fork (est.)", "copied at fork", "copied on demand", "reused"]
    if not rows:
        return "no table counters (copy_pte_range/handle_cow_pte probes need an ODF 6.0.6 kernel)"
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(rows)), 4.5))
    w = 0.2
    for k, key in enumerate(keys):
        ax.bar([i + (k - 1.5) * w for i in range(len(rows))], [r[1][key] or 0 for r in rows], width=w, label=key)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"{r[0]['size']} {r[0]['mode']}\n{'after access' if r[0]['workload'] == 'post-fork-access' else 'at fork'}"
                        for r in rows], fontsize=7)
    ax.set_yscale("symlog")
    ax.set_ylabel("PTE tables (count, median per trial)")
    ax.set_title("Page-table work: shared, copied at fork, copied on demand, reused")
    ax.legend(fontsize=8)
    op.save(fig, outdir, "table_copy", written)
    plt.close(fig)
    return None


def redis(runs, outdir, written):
    cs = [c for c in op.cells(runs, "redis-snapshot") if c["status"] == "ok" and any("latency_series" in t for t in c["trials"])]
    if not cs:
        return "no redis-snapshot results"
    multi = len({c["label"] for c in cs}) > 1
    fig, ax = plt.subplots(figsize=(8, 4.5))
    fig2, ax2 = plt.subplots(figsize=(6, 4.5))
    for c in cs:
        t = next(t for t in c["trials"] if "latency_series" in t)
        xs = [p[0] / 1e6 for p in t["latency_series"]]
        ys = [p[1] / 1e3 for p in t["latency_series"]]
        lbl = f"{c['mode']} {c['size']}" + (f" — {c['label']}" if multi else "")
        ax.plot(xs, ys, lw=0.8, color=op.COLORS.get(c["mode"]), label=lbl)
        w = t["snapshot_window_ns"]
        ax.axvspan(w[0] / 1e6, w[1] / 1e6, color=op.COLORS.get(c["mode"]), alpha=0.08)
        inside = sorted(y for x, y in zip(xs, ys) if w[0] / 1e6 <= x <= w[1] / 1e6)
        if inside:
            ax2.step(inside, [(i + 1) / len(inside) for i in range(len(inside))], where="post", color=op.COLORS.get(c["mode"]), label=lbl)
    ax.set_yscale("log")
    ax.set_xlabel("time since BGSAVE (ms); shaded: snapshot in progress")
    ax.set_ylabel("request latency, GET and SET (us, worst per bucket)")
    ax.set_title("Redis client latency around a BGSAVE snapshot")
    ax.legend(fontsize=8)
    note(ax, op.unmeasured_note(op.cells(runs, "redis-snapshot")))
    op.save(fig, outdir, "redis_latency", written)
    ax2.set_xscale("log")
    ax2.set_xlabel("request latency during the snapshot (us, worst per bucket)")
    ax2.set_ylabel("fraction of buckets (CDF)")
    ax2.set_title("Redis latency CDF during BGSAVE")
    ax2.legend(fontsize=8)
    note(ax2, op.unmeasured_note(op.cells(runs, "redis-snapshot")))
    op.save(fig2, outdir, "redis_latency_cdf", written)
    plt.close(fig)
    plt.close(fig2)
    return None


def fuzz(runs, outdir, written):
    cs = [c for c in op.cells(runs, "fuzz") if c["status"] == "ok"]
    if not cs:
        return "no fuzz results"
    cs = [c for c in cs if op.summary_ci(c, "execs_per_s")]
    if not cs:
        return "no fuzz execs_per_s values"
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(cs)), 4.5))
    no_ci = False
    for i, c in enumerate(cs):
        m, lo, hi = op.summary_ci(c, "execs_per_s")  # the harness's median and 95% CI
        color = op.COLORS.get(c["mode"])
        if lo is None:  # hollow: no interval to draw
            no_ci = True
            ax.bar([i], [m], color="white", edgecolor=color, hatch="//", linewidth=1.5)
        else:
            ax.bar([i], [m], yerr=[[m - lo], [hi - m]], color=color, capsize=3)
    names = [f"{c['size']} {c['mode']}\n{c['setup'].get('driver', '?')}" for c in cs]
    ax.set_xticks(range(len(cs)))
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("executions per second (median, 95% CI)")
    ax.set_title("Fork-server fuzzing throughput (SQLite target)")
    ax.text(0.98, 0.97, f"paper: AFL on SQLite {op.PAPER['afl_sqlite_speedup']}x with ODF\n"
            f"patch set README: {op.PAPER['afl_sqlite_speedup_patchset']}x",
            transform=ax.transAxes, ha="right", va="top", fontsize=8, color="#2ca02c")
    note(ax, join_notes(op.unmeasured_note(op.cells(runs, "fuzz")),
                        no_ci_caption(no_ci, op.MIN_N_95, what="Hollow hatched bars")))
    op.save(fig, outdir, "fuzz", written)
    plt.close(fig)
    return None


FIGURES = [fork_latency, post_fork_access, table_copy, redis, fuzz, landscape]


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
