#!/usr/bin/python3
"""The fork-cost landscape (issue #15): for each workload, its headline metric
against footprint, one series per strategy (mode) and kernel; for the snapshot
workloads, the request-latency CDF during the snapshot, one curve per strategy.

    /usr/bin/python3 plots/landscape.py -o plots results/a.json [results/b.json ...]

make_figures.py calls landscape(runs, outdir, written) too.  A workload run
under one strategy only has no landscape and is skipped with the reason.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odfplots as op  # noqa: E402

GIB = 1 << 30
STYLE = {  # strategy -> (colour, marker)
    "fork": ("#333333", "o"), "odf": ("#1f77b4", "s"), "odf-procfs": ("#17becf", "D"),
    "thp": ("#d62728", "^"), "mthp-16K": ("#ff9896", "v"), "mthp-32K": ("#e377c2", "<"),
    "mthp-64K": ("#9467bd", ">"), "mthp-128K": ("#8c564b", "p"), "mthp-256K": ("#c49c94", "h"),
    "mthp-512K": ("#bcbd22", "*"), "mthp-1M": ("#dbdb8d", "X"), "uffd-wp": ("#2ca02c", "P"),
    "vfork": ("#ff7f0e", "d"), "posix-spawn": ("#7f7f7f", "x"),
}


def headline(r):
    """The cell's headline metric descriptor: the first described metric with a median."""
    for m in r.get("metrics") or []:
        st = (r.get("summary") or {}).get(m["name"])
        if isinstance(st, dict) and isinstance(st.get("median"), (int, float)):
            return m
    return None


def scale_of(unit):
    return {"ns": (1e6, "ms"), "us": (1e3, "ms"), "bytes": (1 << 20, "MiB")}.get(unit, (1.0, unit))


def landscape(runs, outdir, written):
    """One figure per workload run under two strategies or more; returns why none, or None."""
    by_wl = {}
    for path, doc in runs:
        label = op.run_label(path, doc)
        for r in doc["results"]:
            by_wl.setdefault(r["workload"], []).append((label, r))
    made, why = 0, []
    multi_kernel = len({op.run_label(p, d) for p, d in runs}) > 1
    for wl, rs in sorted(by_wl.items()):
        modes = {r["mode"] for _, r in rs if r["status"] == "ok"}
        if len(modes) < 2:
            why.append(f"{wl}: {len(modes)} strategy measured")
            continue
        series = {}
        metric = None
        for label, r in rs:
            if r["status"] != "ok":
                continue
            m = headline(r)
            if not m or (metric and m["name"] != metric["name"]):
                continue
            metric = metric or m
            k, unit = scale_of(m["unit"])
            ci = op.summary_ci({"summary": r.get("summary") or {}, "trials": r.get("trials", [])}, m["name"], k)
            if not ci:
                continue
            x = op.size_bytes(r["params"].get("size", "0")) / GIB
            series.setdefault((r["mode"], label), []).append((x, *ci))
        if not series:
            why.append(f"{wl}: no headline metric")
            continue
        fig, ax = plt.subplots(figsize=(8, 4.8))
        for (mode, label), pts in sorted(series.items()):
            pts.sort()
            colour, marker = STYLE.get(mode, ("#000000", "o"))
            lbl = mode + (f" — {label}" if multi_kernel else "")
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=colour, label=lbl)
            ci = [p for p in pts if p[2] is not None]
            if ci:
                ax.errorbar([p[0] for p in ci], [p[1] for p in ci],
                            yerr=[[p[1] - p[2] for p in ci], [p[3] - p[1] for p in ci]], fmt="none", ecolor=colour, capsize=3)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("footprint (GiB, log scale)")
        ax.set_ylabel(f"{metric['name']} ({scale_of(metric['unit'])[1]}; {metric.get('better', 'lower')} is better)")
        ax.set_title(f"{wl}: the cost of each strategy (median, 95% CI)")
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        op.save(fig, outdir, f"landscape_{wl.replace('-', '_')}", written)
        plt.close(fig)
        made += 1
        # The snapshot workloads: the latency CDF during the snapshot.
        cdfs = [(label, r) for label, r in rs if r["status"] == "ok" and any(t.get("during_latency_cdf") for t in r.get("trials", []))]
        if cdfs:
            largest = max(op.size_bytes(c[1]["params"].get("size", "0")) for c in cdfs)
            fig, ax = plt.subplots(figsize=(7, 4.8))
            for label, r in cdfs:
                t = next(t for t in r["trials"] if t.get("during_latency_cdf"))
                colour, _ = STYLE.get(r["mode"], ("#000000", "o"))
                size = r["params"].get("size", "")
                xs = [p[1] / 1e3 for p in t["during_latency_cdf"]]
                ys = [p[0] for p in t["during_latency_cdf"]]
                ax.step(xs, ys, where="post", color=colour, label=f"{r['mode']} {size}" + (f" — {label}" if multi_kernel else ""),
                        linestyle="-" if op.size_bytes(size or "0") == largest else ":")
            ax.set_xscale("log")
            ax.set_xlabel("request latency during the snapshot (us, from intended start)")
            ax.set_ylabel("fraction of requests (CDF; first measured trial)")
            ax.set_title(f"{wl}: latency during the snapshot, per strategy")
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
            op.save(fig, outdir, f"landscape_{wl.replace('-', '_')}_cdf", written)
            plt.close(fig)
    return None if made else "; ".join(why) or "no results"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--outdir", default="plots")
    ap.add_argument("results", nargs="+")
    a = ap.parse_args()
    for p in a.results:
        if not os.path.isfile(p):
            sys.exit(f"landscape: {p}: no such results file")
    os.makedirs(a.outdir, exist_ok=True)
    written = []
    why = landscape(op.load(a.results), a.outdir, written)
    if why:
        print(f"skipped landscape: {why}")
    for p in written:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
