"""Shared by the figure scripts: reading odfbench results, the medians and 95%
intervals the harness wrote into them (summary.<metric>.ci95, null when n was
too small), the speedup's interval as the harness computes it, and the paper's
numbers.

Runs with Debian's python3-matplotlib under /usr/bin/python3 (PyPI is not
reachable where this suite runs).
"""
import json
import math
import os

MODES = ["fork", "odf", "odf-procfs"]
MARKERS = {"fork": "o", "odf": "s", "odf-procfs": "^"}
LINESTYLES = {"fork": "-", "odf": "--", "odf-procfs": ":"}
# One color family per kernel (run), one shade per mode inside it (fork darkest),
# so the same mode on two kernels never shares a color.  Published numbers are
# black and never use a family.
FAMILIES = [
    ("Reds", {"fork": "#67000d", "odf": "#d62728", "odf-procfs": "#fb6a4a"}),
    ("Blues", {"fork": "#08306b", "odf": "#2171b5", "odf-procfs": "#6baed6"}),
    ("Greens", {"fork": "#00441b", "odf": "#238b45", "odf-procfs": "#74c476"}),
    ("Purples", {"fork": "#3f007d", "odf": "#6a51a3", "odf-procfs": "#9e9ac8"}),
    ("Oranges", {"fork": "#7f2704", "odf": "#d94801", "odf-procfs": "#fd8d3c"}),
]
PUBLISHED_COLOR = "#000000"


class Styles:
    """Color family per run label (in the order the runs were given), marker and
    line style per mode."""

    def __init__(self, runs):
        self.labels = []
        for path, doc in runs:
            lbl = run_label(path, doc)
            if lbl not in self.labels:
                self.labels.append(lbl)

    def color(self, label, mode):
        fam = FAMILIES[self.labels.index(label) % len(FAMILIES)][1] if label in self.labels else FAMILIES[0][1]
        return fam.get(mode, fam["odf"])

    def of(self, label, mode):
        """matplotlib keyword arguments for one (kernel, mode) series."""
        return {"color": self.color(label, mode), "marker": MARKERS.get(mode, "D"), "linestyle": LINESTYLES.get(mode, "-")}


def size_label(nbytes):
    """64M, 256M, 1G, 1.5G: the footprint as people write it."""
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if nbytes >= 1 << shift:
            v = nbytes / (1 << shift)
            return f"{v:.0f}{unit}" if abs(v - round(v)) < 1e-9 else f"{v:.3g}{unit}"
    return f"{nbytes:.0f}"

# docs/odf-kernels.md §5: the EuroSys'21 paper and the patch set's README.
PAPER = {
    "fork_ms": {1 << 30: 6.5, 50 << 30: 253.9},
    "odf_ms": {1 << 30: 0.10, 50 << 30: 0.94},
    "thp_fork_ms_1g": 0.17,
    "child_pgtables_kb_1g": {"fork": 2096, "odf": 44},
    "afl_sqlite_speedup": 2.26,
    "afl_sqlite_speedup_patchset": 9.35,
}

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_bytes(text):
    t = text.strip().upper().replace("IB", "").replace("B", "")
    if t and t[-1] in UNITS:
        return int(float(t[:-1]) * UNITS[t[-1]])
    return int(float(t))


def load(paths):
    """The results files among `paths`; others (check matrices, say) are named and skipped."""
    runs = []
    for p in paths:
        with open(p) as f:
            doc = json.load(f)
        if "results" not in doc or "run" not in doc:
            print(f"skipped {p}: not an odfbench run results file")
            continue
        runs.append((p, doc))
    if not runs:
        raise SystemExit("make_figures: none of the given files holds run results")
    return merge_shards(runs)


def merge_shards(runs):
    """Shard files of one evaluation (run --shard I/N: same spec, kernel and ODF variant)
    as one run, results in cell order, as `odfbench compare` does
    (harness/compare/inputs.cpp): of two files of one shard the complete one (else the
    later) is kept, and run.shards_missing names the shards and cells with no result."""
    out, groups = [], {}
    for p, doc in runs:
        run = doc["run"]
        shard = (run.get("selection") or {}).get("shard")
        if not isinstance(shard, str):
            out.append((p, doc))
            continue
        i, n = (int(x) for x in shard.split("/"))
        spec = {k: v for k, v in run["spec"].items() if k != "output"} if isinstance(run.get("spec"), dict) else run.get("spec")
        key = (json.dumps(spec, sort_keys=True), (run.get("kernel") or {}).get("release"),
               (run.get("odf") or {}).get("variant"), n)
        if key not in groups:
            groups[key] = (len(out), {})
            out.append(None)
        by_shard = groups[key][1]
        if i in by_shard:
            old = by_shard[i][1]["run"]
            rank = lambda r: (r.get("status") == "complete", r.get("started", ""))  # noqa: E731
            if rank(run) < rank(old):
                continue
        by_shard[i] = (p, doc)
    for (slot, by_shard) in groups.values():
        paths = [by_shard[i][0] for i in sorted(by_shard)]
        docs = [by_shard[i][1] for i in sorted(by_shard)]
        merged = dict(docs[0], results=[r for d in docs for r in d["results"]])
        merged["run"] = dict(docs[0]["run"])
        if any(d["run"].get("status") != "complete" for d in docs):
            merged["run"]["status"] = next(d["run"].get("status", "?") for d in docs if d["run"].get("status") != "complete")
        merged["results"].sort(key=lambda r: r.get("cell", 0))
        sel = docs[0]["run"]["selection"]
        n = int(sel["shard"].split("/")[1])
        total = sel.get("total_cells")
        listed = sel.get("shard_cells") if isinstance(sel.get("shard_cells"), list) and len(sel["shard_cells"]) == n else None
        if listed:
            total = sum(len(x) for x in listed)
        have = {r.get("cell") for r in merged["results"]}
        said = []
        for i in range(1, n + 1):
            # builds before cell groups wrote no shard_cells: their shards were I-1 modulo N
            planned = listed[i - 1] if listed else range(i - 1, total, n) if isinstance(total, int) else []
            cells = [c for c in planned if c not in have]
            if i in by_shard and not cells:
                continue
            said.append(f"shard {i}/{n} {'incomplete' if i in by_shard else 'missing'} (cells "
                        f"{', '.join(map(str, cells)) or 'none' if isinstance(total, int) else 'unknown'})")
        if said:
            merged["run"]["shards_missing"] = f"{len(by_shard)} of {n} shards given; " + "; ".join(said)
        out[slot] = (paths[0] + "".join("+" + q.rsplit("/", 1)[-1] for q in paths[1:]), merged)
    return out


def run_label(path, doc):
    run = doc["run"]
    vm = (run.get("environment") or {}).get("vm")
    where = f", VM {vm.get('accelerator')}" if isinstance(vm, dict) else ""
    return f"{(run.get('kernel') or {}).get('release', '?')} ({(run.get('odf') or {}).get('variant', '?')}{where})"


def mode_rank(mode):
    return MODES.index(mode) if mode in MODES else len(MODES)


def accelerator(doc):
    """'host' (no VM), or the QEMU accelerator ('tcg', 'kvm', '?')."""
    vm = ((doc.get("run") or {}).get("environment") or {}).get("vm")
    return vm.get("accelerator", "?") if isinstance(vm, dict) else "host"


def environment(doc):
    """One phrase for where a run ran: 'QEMU tcg guest (2 vCPUs, 5.8 GiB) on AMD EPYC' or
    'bare host AMD EPYC (2 CPUs, 23.5 GiB)'."""
    run = doc.get("run") or {}
    host = run.get("host") or {}
    vm = (run.get("environment") or {}).get("vm")
    mem = host.get("mem_total_bytes")
    mem = f", {mem / (1 << 30):.1f} GiB" if isinstance(mem, (int, float)) else ""
    if isinstance(vm, dict):
        machine = (vm.get("host") or {}).get("cpu_model", "?")
        return f"QEMU {vm.get('accelerator', '?').upper()} guest ({host.get('cpus_online', '?')} vCPUs{mem}) on {machine}"
    return f"host {host.get('cpu_model', '?')} ({host.get('cpus_online', '?')} CPUs{mem}), no VM"


# The harness's tails: 2.5% each side for a median's 95% interval, 1.25% for
# the 97.5% per-median intervals a speedup's 95% interval is built from.
TAIL_95 = (1, 40)
TAIL_SPEEDUP = (1, 80)
NO_CI_NOTE = "hollow markers: no 95% CI (n too small)"
MIN_N_95 = 6        # smallest n with a 95% interval of a median (2^-6 <= 1/40)
MIN_N_SPEEDUP = 7   # smallest n per side for the speedup's (2^-7 <= 1/80)


def ci_ranks(n, tail=TAIL_95):
    """0-based order-statistic ranks bounding the median with coverage >= 1 - 2 tail,
    or None when n is too small for any (as harness/base/stats.cpp median_ci_ranks).

    Exact integer arithmetic: the largest j with sum_{k<j} C(n, k) <= tail 2^n;
    tail is a fraction (num, den)."""
    num, den = tail
    limit = num << n
    j, acc, c = 0, 0, 1
    for k in range(n):
        acc += c  # sum of C(n, i) for i <= k
        if acc * den > limit:
            break
        j = k + 1
        c = c * (n - k) // (k + 1)
    return None if j == 0 else (j - 1, n - j)


def median(v):
    s = sorted(v)
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def summary_ci(cell, metric, scale=1.0):
    """(median, lo, hi) of `metric` in `cell`, divided by `scale`, from the interval
    the harness wrote (summary.<metric>.ci95).  lo and hi are None when it wrote
    none (null: n too small) or the file predates it (no ci95 key); the median
    then comes from the summary, or from the trials if there is no summary."""
    st = (cell.get("summary") or {}).get(metric)
    if isinstance(st, dict) and isinstance(st.get("median"), (int, float)):
        m = st["median"]
    else:
        vals = values(cell, metric)
        if not vals:
            return None
        m = median(vals)
    ci = st.get("ci95") if isinstance(st, dict) else None
    n = st.get("n") if isinstance(st, dict) else None
    if (isinstance(ci, list) and len(ci) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in ci)
            # Files from before issue #18 wrote [min, max] for n < 6 (not 95%) and
            # [max, min] from n = 1075 (2^-n underflowed): neither is an interval.
            and ci[0] <= ci[1] and not (isinstance(n, int) and n < MIN_N_95)):
        return m / scale, ci[0] / scale, ci[1] / scale
    return m / scale, None, None


def speedup(a, b, higher_is_better=False):
    """A over B as the harness computes it (harness/base/stats.cpp speedup): the ratio of
    medians with a 95% interval from 97.5% median intervals on each side.

    (value, lo, hi); lo and hi None when a side has too few samples for its
    97.5% interval (n < 7) or the interval is unbounded; None when the ratio is
    undefined (no samples, or the denominator's median is 0)."""
    if not a or not b:
        return None
    if higher_is_better:
        a, b = b, a
    a, b = sorted(a), sorted(b)
    ma, mb = median(a), median(b)
    if mb == 0:
        return None
    ra, rb = ci_ranks(len(a), TAIL_SPEEDUP), ci_ranks(len(b), TAIL_SPEEDUP)
    if ra is None or rb is None:
        return ma / mb, None, None
    alo, ahi, blo, bhi = a[ra[0]], a[ra[1]], b[rb[0]], b[rb[1]]
    if blo <= 0:
        return ma / mb, None, None
    return ma / mb, alo / bhi, ahi / blo


def cells(runs, workload):
    """Every result of `workload`: dicts with run label, size, mode, status, trials."""
    out = []
    for path, doc in runs:
        for r in doc["results"]:
            if r["workload"] != workload:
                continue
            out.append({
                "label": run_label(path, doc),
                "size": r["params"].get("size", "0"),
                "bytes": size_bytes(r["params"].get("size", "0")),
                "workload": workload,
                "params": {k: v for k, v in r["params"].items() if k not in ("size", "size_bytes")},
                "mode": r["mode"],
                "status": r["status"],
                "reason": r.get("reason", ""),
                "trials": r.get("trials", []),
                "summary": r.get("summary") or {},
                "setup": r.get("setup", {}),
            })
    return out


def values(cell, metric):
    return [t[metric] for t in cell["trials"] if isinstance(t.get(metric), (int, float)) and not isinstance(t.get(metric), bool)]


def n_of(cell, metric):
    """Trials behind a cell's median: the harness's summary n, else the trials kept."""
    st = (cell.get("summary") or {}).get(metric)
    if isinstance(st, dict) and isinstance(st.get("n"), int) and not isinstance(st.get("n"), bool):
        return st["n"]
    return len(values(cell, metric))


def unmeasured_note(cs):
    """Why ODF is absent from these cells, or None if some ODF cell was measured."""
    odf = [c for c in cs if c["mode"] in ("odf", "odf-procfs")]  # not the other strategies (issue #15)
    if any(c["status"] == "ok" for c in odf):
        return None
    reasons = sorted({c["reason"].split(";")[0] for c in odf if c["reason"]})
    return "ODF not measured" + (": " + reasons[0] if reasons else "")


def save(fig, outdir, name, written):
    for ext in ("png", "svg"):
        p = os.path.join(outdir, f"{name}.{ext}")
        fig.savefig(p, dpi=130, bbox_inches="tight")
        written.append(p)


def _selftest():
    """`/usr/bin/python3 plots/odfplots.py`: the intervals against values computed
    by hand (the same exact sums as tests/unit_stats.cpp MedianCiRanksHandComputed)."""
    ns = (1, 3, 5, 6, 7, 20, 1075, 5000)
    assert [ci_ranks(n) for n in ns] == [None, None, None, (0, 5), (0, 6), (5, 14), (504, 570), (2430, 2569)]
    assert [ci_ranks(n, TAIL_SPEEDUP) for n in ns] == [None, None, None, None, (0, 6), (4, 15), (500, 574), (2420, 2579)]
    assert ci_ranks(MIN_N_95 - 1) is None and ci_ranks(MIN_N_95)
    assert ci_ranks(MIN_N_SPEEDUP - 1, TAIL_SPEEDUP) is None and ci_ranks(MIN_N_SPEEDUP, TAIL_SPEEDUP)
    # tests/unit_stats.cpp Speedup.HandComputedInterval
    fork, odf = [19, 10, 12, 11, 13, 15, 14, 16, 18, 17], list(range(1, 11))
    assert speedup(fork, odf) == (14.5 / 5.5, 11 / 9, 18 / 2)
    assert speedup(odf, fork, higher_is_better=True) == (14.5 / 5.5, 11 / 9, 18 / 2)
    assert speedup([100, 101, 102, 103, 104], [1, 2, 3, 4, 5]) == (102 / 3, None, None)  # n = 5 < 7
    assert speedup(fork, [0] * 10) is None  # the denominator's median is 0
    # The harness's interval is used as written; null, absent or pre-#18 ones are not intervals.
    cell = {"trials": [{"x": v} for v in range(1, 11)],
            "summary": {"x": {"n": 10, "median": 5.5, "ci95": [2, 9]}, "y": {"n": 3, "median": 2, "ci95": None},
                        "z": {"n": 3, "median": 2, "ci95": [1, 3]}, "w": {"n": 1100, "median": 550, "ci95": [1100, 1]}}}
    assert summary_ci(cell, "x") == (5.5, 2, 9)
    assert summary_ci(cell, "y") == (2, None, None)
    assert summary_ci(cell, "z") == (2, None, None)
    assert summary_ci(cell, "w") == (550, None, None)
    assert summary_ci({"trials": cell["trials"], "summary": {}}, "x") == (5.5, None, None)
    # Footprints read as sizes, never as powers of two.
    assert [size_label(b) for b in (1 << 26, 1 << 28, 1 << 30, 50 << 30, 3 << 29)] == ["64M", "256M", "1G", "50G", "1.5G"]
    # Two kernels never share a color, whatever the mode.
    runs = [(f"{i}.json", {"run": {"kernel": {"release": f"6.{i}"}, "odf": {"variant": "v"}}}) for i in range(3)]
    st = Styles(runs)
    colors = {st.color(lbl, m) for lbl in st.labels for m in MODES}
    assert len(colors) == 3 * len(MODES), colors
    # Shards of one spec on one kernel are one run, in cell order; another kernel stays apart.
    def shard(which, cell, release):
        return (f"s{which[0]}-{release}.json", {"run": {"spec": {"name": "q"}, "kernel": {"release": release}, "odf": {"variant": "none"},
                                                        "selection": {"shard": which}}, "results": [{"cell": cell}]})
    merged = merge_shards([shard("2/2", 1, "6.18"), shard("1/2", 0, "6.18"), shard("1/2", 0, "6.1")])
    assert len(merged) == 2 and [r["cell"] for r in merged[0][1]["results"]] == [0, 1], merged
    # A cancelled task's partial file and its rerun: the complete one is kept; without
    # the rerun the missing cells are named (tests/unit_stats.cpp ShardRerunReplacesTheCancelledTask).
    def part(which, cells, status):
        return (f"{which[0]}-{status}.json", {"run": {"spec": {"name": "q", "output": f"{which[0]}-{status}.json"}, "kernel": {"release": "6.18"}, "odf": {"variant": "none"},
                                                      "status": status, "selection": {"shard": which, "total_cells": 5}},
                                              "results": [{"cell": c} for c in cells]})
    one, cut, rerun = part("1/2", [0, 2, 4], "complete"), part("2/2", [1], "interrupted"), part("2/2", [1, 3], "complete")
    m = merge_shards([one, rerun, cut])[0][1]
    assert [r["cell"] for r in m["results"]] == [0, 1, 2, 3, 4] and "shards_missing" not in m["run"], m
    m = merge_shards([one, cut])[0][1]
    assert m["run"]["shards_missing"] == "2 of 2 shards given; shard 2/2 incomplete (cells 3)", m["run"]
    print("odfplots: self-test passed")


if __name__ == "__main__":
    _selftest()
