"""Shared by the figure scripts: reading odfbench results, medians with the
same distribution-free intervals the harness uses, and the paper's numbers.

Runs with Debian's python3-matplotlib under /usr/bin/python3 (PyPI is not
reachable where this suite runs).
"""
import json
import math
import os

MODES = ["fork", "odf", "odf-procfs"]
COLORS = {"fork": "#444444", "odf": "#d62728", "odf-procfs": "#1f77b4"}
MARKERS = {"fork": "o", "odf": "s", "odf-procfs": "^"}

# odf-kernel-facts.md §5: EuroSys'21 paper and the patch set's README.
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
    return runs


def run_label(path, doc):
    run = doc["run"]
    vm = (run.get("environment") or {}).get("vm")
    where = f", VM {vm.get('accelerator')}" if isinstance(vm, dict) else ""
    return f"{run['kernel']['release']} ({run['odf']['variant']}{where})"


def ci_ranks(n, tail=0.025):
    """0-based order-statistic ranks bounding the median (as harness/stats.cpp)."""
    if n == 0:
        return (0, 0)
    cdf, pmf, j = 0.0, 0.5 ** n, 0
    for k in range(n):
        cdf += pmf
        if cdf > tail:
            break
        j = k + 1
        pmf *= (n - k) / (k + 1)
    return (0, n - 1) if j == 0 else (j - 1, n - j)


def median(v):
    s = sorted(v)
    n = len(s)
    if n == 0:
        return math.nan
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def median_ci(v, tail=0.025):
    s = sorted(v)
    lo, hi = ci_ranks(len(s), tail)
    return median(s), s[lo], s[hi]


def speedup(a, b, higher_is_better=False):
    """A over B with the harness's interval: 97.5% median CIs on each side."""
    if not a or not b:
        return None
    ma, alo, ahi = median_ci(a, 0.0125)
    mb, blo, bhi = median_ci(b, 0.0125)
    if higher_is_better:
        ma, alo, ahi, mb, blo, bhi = mb, blo, bhi, ma, alo, ahi
    return ma / mb, alo / bhi, (ahi / blo if blo else math.inf)


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
                "setup": r.get("setup", {}),
            })
    return out


def values(cell, metric):
    return [t[metric] for t in cell["trials"] if isinstance(t.get(metric), (int, float)) and not isinstance(t.get(metric), bool)]


def unmeasured_note(cs):
    """Why ODF is absent from these cells, or None if some ODF cell was measured."""
    odf = [c for c in cs if c["mode"] != "fork"]
    if any(c["status"] == "ok" for c in odf):
        return None
    reasons = sorted({c["reason"].split(";")[0] for c in odf if c["reason"]})
    return "ODF not measured" + (": " + reasons[0] if reasons else "")


def save(fig, outdir, name, written):
    for ext in ("png", "svg"):
        p = os.path.join(outdir, f"{name}.{ext}")
        fig.savefig(p, dpi=130, bbox_inches="tight")
        written.append(p)
