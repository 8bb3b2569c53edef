#!/usr/bin/python3
"""The evaluation as one page: a self-contained HTML file (figures inline as SVG,
no script, no external resource) and its markdown twin.

Run by `odfbench report`, which has already checked the inputs and passes the
fork-vs-ODF comparison it computed (`odfbench compare --json`), so the ratios here
are exactly compare's:

    /usr/bin/python3 plots/report.py --html OUT.html --markdown OUT.md \
        --compare compare.json --tool "0.1.0 (git)" FILE...

FILE is an odfbench results file or an `odfbench check --json` file.  A section
appears only when the inputs support it; the page says which were left out and why.
"""
import argparse
import datetime
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anatomy  # noqa: E402
import make_figures as mf  # noqa: E402
import odfplots as op  # noqa: E402
from report_page import (P, Table, Pre, Figure, Details, Section, inline_svg,  # noqa: E402
                         render_html, render_markdown)

BAD_CHECK = ("fail", "crashed", "hung", "error", "skipped")

# ---------------------------------------------------------------- numbers


def fmt_time_ns(v):
    if v is None:
        return ""
    for div, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if abs(v) >= div:
            return f"{v / div:.3g} {unit}"
    return f"{v:.3g} ns"


def fmt_value(v, metric, unit=""):
    if v is None:
        return ""
    if metric.endswith("_ns") or unit == "ns":
        return fmt_time_ns(v)
    if unit == "us" or metric.endswith("_usec"):
        return fmt_time_ns(v * 1e3)
    if metric.endswith("_bytes"):
        return f"{v / 1024:.0f} KiB"
    return f"{v:.4g}"


def interval_text(cell, metric):
    """'[lo, hi]' from the harness's summary, or why there is none."""
    st = (cell.get("summary") or {}).get(metric)
    s = op.summary_ci(cell, metric)
    n = op.n_of(cell, metric)
    if s and s[1] is not None:
        return f"[{fmt_value(s[1], metric)}, {fmt_value(s[2], metric)}]"
    why = st.get("ci95_reason") if isinstance(st, dict) else None
    return ("not defined: " + why) if why else f"not defined: n = {n} < {op.MIN_N_95}" if n < op.MIN_N_95 else "not defined"


def params_text(params):
    """compare's params (a JSON object as text, size excluded) without size_bytes, as k=v."""
    try:
        d = json.loads(params) if params else {}
    except ValueError:
        return params
    return ", ".join(f"{k}={v}" for k, v in d.items() if k not in ("size_bytes", "command", "metric"))


def speedup_text(sp):
    if sp is None:
        return ""
    if sp.get("value") is None:
        return "undefined (" + sp.get("value_reason", "?") + ")"
    v = f"{sp['value']:.2f}x"
    ci = sp.get("ci95")
    if ci is None:
        return f"{v} [no 95% CI]"  # the verdict column says why
    hi = "inf" if ci[1] is None else f"{ci[1]:.2f}"
    return f"{v} [{ci[0]:.2f}, {hi}]"


def is_odf(mode):
    """ODF itself, however it was switched on; every other mode is a strategy
    (a folio size, uffd-wp, vfork, posix-spawn) and is never called ODF."""
    return mode == "odf" or mode.startswith("odf-")


def verdict(sp, tcg, mode="odf"):
    """What a reader may conclude from one ratio of fork against `mode`."""
    if sp is None or sp.get("value") is None:
        return ("undefined", "na")
    if sp.get("ci95") is None:
        return ("no verdict: " + sp.get("ci95_reason", "no interval"), "na")
    if sp.get("significant"):
        better = sp["value"] > 1
        who = "ODF" if is_odf(mode) else mode
        v = f"{who} {'faster' if better else 'slower'} than fork (95% CI excludes 1)"
        return (v + ("; under TCG" if tcg else ""), "good" if better else "bad")
    return ("no significant difference (95% CI includes 1)", "na")


# ---------------------------------------------------------------- inputs


def classify(paths):
    runs, checks = [], []
    for p in paths:
        with open(p) as f:
            doc = json.load(f)
        if isinstance(doc, dict) and "results" in doc and "run" in doc:
            runs.append((p, doc))
        elif isinstance(doc, dict) and doc.get("kind") == "odfbench-check":
            checks.append((p, doc))
        else:
            sys.exit(f"report: {p}: not an odfbench results or check file")
    return op.merge_shards(runs), checks


def where(doc):
    return op.environment(doc)


# ---------------------------------------------------------------- sections


def header_blocks(runs, checks, tool):
    blocks = [P(f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} by odfbench {tool} "
                f"from {len(runs)} results file(s) and {len(checks)} check file(s).")]
    tcg = [op.run_label(p, d) for p, d in runs if op.accelerator(d) == "tcg"]
    tcg += [f"check on {d['kernel'].get('release', '?')}" for p, d in checks
            if isinstance((d.get("environment") or {}).get("vm"), dict) and d["environment"]["vm"].get("accelerator") == "tcg"]
    if tcg:
        blocks.append(P("QEMU TCG: " + ", ".join(tcg) + " ran under software CPU emulation. Absolute times are not "
                        "bare-metal times (slower than hardware, and not uniformly so); read ratios within one run, "
                        "not milliseconds, and never compare them with the paper's bare-metal milliseconds.", "warn"))
    return blocks


def summary_section(runs, checks, comparison):
    blocks = []
    if runs:
        rows = []
        for i, (p, d) in enumerate(runs):
            res = d["results"]
            ok = sum(r["status"] == "ok" for r in res)
            tool = d.get("tool") or {}
            rows.append([str(i), os.path.basename(p), d["run"]["kernel"].get("release", "?"), d["run"]["odf"].get("variant", "?"),
                         (where(d), "warn" if op.accelerator(d) == "tcg" else None), d["run"].get("status", "?"),
                         f"{ok} measured, {len(res) - ok} not", f"{tool.get('version', '?')} ({tool.get('git', '?')})"])
        blocks.append(P("Kernels evaluated:"))
        blocks.append(Table(["run", "file", "kernel", "ODF variant", "where", "status", "cells", "odfbench"], rows))
        for i, (p, d) in enumerate(runs):
            if d["run"].get("shards_missing"):
                blocks.append(P(f"Run {i} is sharded and not whole: {d['run']['shards_missing']}. Rerun those shards "
                                "(run --shard I/N) and give their files too.", "warn"))
    within = (comparison or {}).get("within", [])
    measured = [r for r in within if "unavailable" not in r]
    odf_rows = [r for r in measured if is_odf(r["mode"])]
    strategy_rows = [r for r in measured if not is_odf(r["mode"])]
    if odf_rows:
        blocks.append(P("Headline fork-vs-ODF ratios (per run and workload, the largest footprint compared). Speedup = "
                        "fork/ODF for times, ODF/fork for rates; 95% CI from 97.5% order-statistic intervals of each "
                        "median (none below 7 trials per side), as `odfbench compare`."))
        blocks += comparison_tables(odf_rows, runs, "ODF")
    elif runs:
        blocks.append(P("No fork-vs-ODF ratio: no run measured both fork and ODF in the same cell "
                        "(see 'Not measured' for why).", "warn"))
    if strategy_rows:
        blocks.append(P("Fork against the other strategies (not ODF: a folio size, uffd-wp, vfork, posix-spawn, on the "
                        "same kernel), per run and workload, the largest footprint compared. Speedup = fork/strategy for "
                        "times, strategy/fork for rates; intervals as above."))
        blocks += comparison_tables(strategy_rows, runs, "strategy")
    return Section("summary", "Summary", blocks + checks_summary(checks))


def comparison_tables(rows, runs, who):
    """The headline (per run, workload and mode: the largest size) and all rows;
    `who` names the other side in the headers: "ODF" or "strategy"."""
    best = {}
    for r in rows:
        key = (r["run"], r["workload"], params_text(r["params"]), r["mode"])
        if key not in best or op.size_bytes(r["size"] or "0") > op.size_bytes(best[key]["size"] or "0"):
            best[key] = r
    headers = ["run", "workload", "size", "ODF mode" if who == "ODF" else "strategy", "metric", "fork median",
               f"{who} median", "speedup [95% CI]", "verdict"]
    return [Table(headers, [comparison_row(r, runs) for r in best.values()]),
            Details(f"All {len(rows)} fork-vs-{who} comparisons", [Table(headers, [comparison_row(r, runs) for r in rows])])]


def checks_summary(checks):
    blocks = []
    for p, d in checks:
        counts = {}
        for c in d["checks"]:
            for m, r in c["results"].items():
                counts.setdefault(m, {}).setdefault(r["status"], 0)
                counts[m][r["status"]] += 1
        parts = [f"{m}: " + ", ".join(f"{n} {s}" for s, n in sorted(v.items())) for m, v in counts.items()]
        bad = any(r["status"] in BAD_CHECK for c in d["checks"] for r in c["results"].values())
        blocks.append(P(f"Correctness matrix on {d['kernel'].get('release', '?')} ({d['odf'].get('variant', '?')}): "
                        + "; ".join(parts) + (" — has failures, see below." if bad else "."), "bad" if bad else None))
    return blocks


def comparison_row(r, runs):
    p, d = runs[r["run"]]
    tcg = op.accelerator(d) == "tcg"
    what = r["workload"] + (" (" + params_text(r["params"]) + ")" if params_text(r["params"]) else "")
    v, cls = verdict(r.get("speedup"), tcg, r["mode"])
    return [f"{r['run']}: {d['run']['kernel'].get('release', '?')}", what, r["size"], r["mode"], r["metric"],
            fmt_value(r["fork"]["median"], r["metric"], r.get("unit", "")) + f" (n={r['fork'].get('n', '?')})",
            fmt_value(r["odf"]["median"], r["metric"], r.get("unit", "")) + f" (n={r['odf'].get('n', '?')})",
            speedup_text(r.get("speedup")), (v, cls)]


FIGURE_TITLES = {
    "fork_latency": "Fork latency against footprint",
    "speedup": "ODF speedup of the fork call",
    "child_pgtables": "Page-table memory the child gets at fork",
    "post_fork_access": "Post-fork access: the fork, the faults, the cost per fault",
    "table_copy": "Page-table work per kernel: shared, copied, copied on demand, reused",
    "redis_latency": "Redis latency around a BGSAVE snapshot",
    "redis_latency_cdf": "Redis latency CDF during BGSAVE",
    "fuzz": "Fork-server fuzzing throughput",
    "fork_tests": "Fork-per-test runner: tests per second and per-test latency",
    "fault_latency_cdf": "User page-fault latency after fork: CDF, table-copy faults apart",
    "fork_phases": "One fork by kernel phase",
}

# The numbers behind each figure: (workload, metrics); every cell of the workload is
# listed, measured or not, so a missing point says why on the page.
FIGURE_NUMBERS = {
    "fork_latency": [("fork-latency", ["fork_ns"])],
    "child_pgtables": [("fork-latency", ["child_pgtables_bytes"])],
    "post_fork_access": [("post-fork-access", ["fork_ns", "child_access_ns", "parent_access_ns", "ns_per_fault"])],
    "table_copy": [("fork-latency", ["cpte_fork", "tables_shared_est"]),
                   ("post-fork-access", ["cpte_fault", "tfork_table_copies", "handle_cow_pte_reused"])],
    # during_* since the open-loop client, window_* before it
    "redis_latency": [("redis-snapshot", ["latest_fork_usec", "during_p99_ns", "during_max_ns", "window_p99_ns", "window_max_ns"])],
    "redis_latency_cdf": [],
    "fuzz": [("fuzz", ["execs_per_s"])],
    "fork_tests": [("fork-tests", ["tests_per_s", "test_p50_ns", "test_p99_ns"])],
}


def figure_title(name):
    if name.startswith("landscape_"):
        wl = name[len("landscape_"):]
        cdf = wl.endswith("_cdf")
        wl = (wl[:-4] if cdf else wl).replace("_", "-")
        return f"Landscape, {wl}: " + ("latency during the snapshot, per strategy" if cdf else "every strategy against footprint")
    return FIGURE_TITLES.get(name, name)


def numbers_table(runs, name, comparison):
    if name == "speedup":
        # the figure is fork over ODF: strategies have their own landscape figures
        fl = [r for r in (comparison or {}).get("within", []) if r["workload"] == "fork-latency" and is_odf(r["mode"])]
        rows = [comparison_row(r, runs) for r in fl if "unavailable" not in r]
        rows += [[f"{r['run']}: {runs[r['run']][1]['run']['kernel'].get('release', '?')}", r["workload"], r["size"], r["mode"],
                  r["metric"], "", "", "", (f"not measured: {r['unavailable']}", "na")] for r in fl if "unavailable" in r]
        return Table(["run", "workload", "size", "ODF mode", "metric", "fork median", "ODF median", "speedup [95% CI]", "verdict"], rows)
    if name in anatomy.NUMBERS:
        head, rows = anatomy.NUMBERS[name](runs)
        return Table(head, rows) if rows else None
    rows = []
    for workload, metrics in FIGURE_NUMBERS.get(name, []):
        for c in op.cells(runs, workload):
            params = ", ".join(f"{k}={v}" for k, v in c["params"].items() if k not in ("command", "metric"))
            if c["status"] != "ok":
                rows.append([c["label"], params, c["size"], c["mode"], "", "", "", (f"not measured ({c['status']}): {c['reason']}", "na")])
                continue
            for m in metrics:
                vals = op.values(c, m)
                if not vals:
                    why = (c["setup"].get("missing_metrics") or {}).get(m)
                    if why:
                        rows.append([c["label"], params, c["size"], c["mode"], m, "", "", (f"not measured: {why}", "na")])
                    continue
                n = op.n_of(c, m)
                # the summary's median and n; a file that kept fewer trials than it summarised says so
                ntext = str(n) if n == len(vals) else f"{n} ({len(vals)} trials kept in the file)"
                rows.append([c["label"], params, c["size"], c["mode"], m, ntext, fmt_value(op.summary_ci(c, m)[0], m),
                             interval_text(c, m)])
    return Table(["kernel", "params", "size", "mode", "metric", "n", "median", "95% CI of the median"], rows) if rows else None


def figures_section(runs, comparison, tmpdir):
    blocks, skipped = [], []
    written = []
    mf.CAPTION_IN_FIGURE = False  # the page prints the caption beside the figure
    for f in mf.FIGURES:
        why = f(runs, tmpdir, written)
        if why:
            skipped.append(f"{f.__name__}: {why}")
    figs = []
    for path in written:
        if not path.endswith(".svg"):
            continue
        name = os.path.basename(path)[:-4]
        with open(path) as fh:
            svg = inline_svg(fh.read(), name, figure_title(name))
        caption, warnings = mf.CAPTIONS.get(name, ("", []))
        figs.append(Figure(name, figure_title(name), svg, caption, numbers_table(runs, name, comparison), warnings))
    if skipped:
        blocks.append(P("Figures not drawn, and why: " + "; ".join(skipped) + "."))
    drawn = [f.name for f in figs if f.name.startswith("landscape_")]
    if drawn:
        blocks.append(P(f"Landscape figures (every strategy against fork, per workload): {len(drawn)} drawn, below."))
    return Section("figures", "Figures", blocks + figs), figs


def published_section(runs, comparison):
    """The paper's and the patch set's numbers, each beside the closest cell we measured."""
    def ours_fork_latency(mode, nbytes):
        out = []
        for c in op.cells(runs, "fork-latency"):
            if c["mode"] == mode and c["bytes"] == nbytes and not c["params"].get("thp"):
                if c["status"] == "ok" and op.values(c, "fork_ns"):
                    s = op.summary_ci(c, "fork_ns")
                    out.append(f"{c['label']}: {fmt_time_ns(s[0])} (n={op.n_of(c, 'fork_ns')}, 95% CI "
                               f"{interval_text(c, 'fork_ns')})")
                else:
                    out.append(f"{c['label']}: not measured ({c['reason']})")
        return "; ".join(out) or f"no {op.size_label(nbytes)} {mode} cell in these results"

    def ours_pgtables(mode):
        out = [f"{c['label']}: {op.median(op.values(c, 'child_pgtables_bytes')) / 1024:.0f} kB"
               for c in op.cells(runs, "fork-latency") if c["mode"] == mode and c["bytes"] == 1 << 30 and op.values(c, "child_pgtables_bytes")]
        return "; ".join(out) or "no 1G cell in these results"

    def ours_ratio(workload, nbytes=None):
        out = [f"{runs[r['run']][1]['run']['kernel'].get('release', '?')} {r['mode']}: {speedup_text(r.get('speedup'))}"
               for r in (comparison or {}).get("within", []) if r["workload"] == workload and "unavailable" not in r
               and is_odf(r["mode"]) and (nbytes is None or op.size_bytes(r["size"] or "0") == nbytes)]
        return "; ".join(out) or "not measured in these results"

    pub = op.PAPER
    rows = [
        ["fork latency, 1 GB", f"{pub['fork_ms'][1 << 30]} ms", "paper (bare metal)", ours_fork_latency("fork", 1 << 30)],
        ["ODF fork latency, 1 GB", f"{pub['odf_ms'][1 << 30]} ms", "paper (bare metal)", ours_fork_latency("odf", 1 << 30)],
        ["fork latency, 50 GB", f"{pub['fork_ms'][50 << 30]} ms", "paper (bare metal)", ours_fork_latency("fork", 50 << 30)],
        ["ODF fork latency, 50 GB", f"{pub['odf_ms'][50 << 30]} ms", "paper (bare metal)", ours_fork_latency("odf", 50 << 30)],
        ["fork/ODF speedup, 1 GB", f"{pub['fork_ms'][1 << 30] / pub['odf_ms'][1 << 30]:.0f}x (derived from the two above)",
         "paper (bare metal)", ours_ratio("fork-latency", 1 << 30)],
        ["child page tables after forking 1 GB, fork", f"{pub['child_pgtables_kb_1g']['fork']} kB", "patch set README", ours_pgtables("fork")],
        ["child page tables after forking 1 GB, ODF", f"{pub['child_pgtables_kb_1g']['odf']} kB", "patch set README", ours_pgtables("odf")],
        ["AFL on SQLite, ODF over fork", f"{pub['afl_sqlite_speedup']}x", "paper", ours_ratio("fuzz")],
        ["AFL on SQLite, ODF over fork", f"{pub['afl_sqlite_speedup_patchset']}x", "patch set README", ours_ratio("fuzz")],
    ]
    return Section("published", "Published numbers beside ours", [
        P("Published: numbers quoted from the EuroSys'21 paper and the patch set's README (docs/odf-kernels.md §5). "
          "They were measured elsewhere, on other machines; they are never part of our series. Our column is what "
          "these results hold for the same quantity, with n and interval.", "published"),
        Table(["quantity", ("published", "published"), "source", "ours (this report's results)"],
              [[r[0], (r[1], "published"), r[2], r[3]] for r in rows])])


def not_measured_section(runs):
    """Every cell or metric not measured, one row per (kernel, what, reason) with the cells it hit."""
    groups = {}
    for p, d in runs:
        lbl = op.run_label(p, d)
        for r in d["results"]:
            params = ", ".join(f"{k}={v}" for k, v in r["params"].items() if k not in ("size", "size_bytes", "command", "metric"))
            cell = f"{r['workload']} {r['params'].get('size', '')} {r['mode']}" + (f" ({params})" if params else "")
            if r["status"] != "ok":
                groups.setdefault((lbl, f"cell {r['status']}", r.get("reason", "")), []).append(cell)
            for m, why in ((r.get("setup") or {}).get("missing_metrics") or {}).items():
                groups.setdefault((lbl, f"metric {m} missing", why), []).append(cell)
    if not groups:
        return None
    rows = [[lbl, what, (why, "na"), f"{len(cells)}: " + "; ".join(cells)] for (lbl, what, why), cells in groups.items()]
    return Section("not-measured", "Not measured, and why", [
        P("Every cell or metric the runs did not measure, with the reason the harness recorded."),
        Table(["kernel", "what", "why", "cells"], rows)])


def checks_section(checks):
    blocks = []
    for p, d in checks:
        vm = (d.get("environment") or {}).get("vm")
        env = f"QEMU {vm.get('accelerator', '?')} guest" if isinstance(vm, dict) else "host (no VM)"
        blocks.append(P(f"{os.path.basename(p)}: kernel {d['kernel'].get('release', '?')}, ODF variant "
                        f"{d['odf'].get('variant', '?')}, {env}, status {d.get('status', '?')}."))
        if d.get("first_taint"):
            blocks.append(P(f"The kernel was tainted during {d['first_taint']}: verdicts after it ran on a damaged kernel.", "bad"))
        if d.get("wedged_at"):
            blocks.append(P(f"The kernel wedged at {d['wedged_at']}: later checks were skipped.", "bad"))
        modes = d["modes"]
        rows, notes, skipped = [], [], {}
        for c in d["checks"]:
            row = [c["name"], c["group"]]
            for m in modes:
                r = c["results"].get(m, {"status": "-"})
                st = r["status"]
                row.append((st, {"pass": "good", "n/a": "na", "unavailable": "na", "unsupported": "na"}.get(st, "bad")))
                if st in BAD_CHECK:
                    log = r.get("dmesg")
                    lines = log if isinstance(log, list) else [str(log)] if log else []
                    notes.append(P(f"{c['name']} under {m}: {st}. {r.get('detail', '')}", "bad"))
                    notes.append(Pre("\n".join(lines) if lines else "(no kernel log lines during this check)"))
                elif st in ("unsupported", "unavailable") and r.get("detail"):
                    skipped.setdefault((m, st, r["detail"]), []).append(c["name"])
            rows.append(row)
        # one line per reason, not 27 identical "kernel has no ODF"
        notes += [P(f"{st} under {m} ({len(names)}: {', '.join(names)}): {why}") for (m, st, why), names in skipped.items()]
        blocks.append(Table(["check", "group"] + modes, rows, "data matrix"))
        nfail = sum(isinstance(n, Pre) for n in notes)
        blocks.append(P(f"{nfail} failure(s), each with the kernel log lines that appeared during it." if nfail else
                        "No check failed, crashed, hung or errored."))
        blocks.extend(notes)
    return Section("checks", "Correctness matrix", blocks)


def provenance_section(runs):
    blocks = []
    for i, (p, d) in enumerate(runs):
        run = d["run"]
        vm = (run.get("environment") or {}).get("vm")
        tool = d.get("tool") or {}
        facts = [["file", p], ["kernel", f"{run['kernel'].get('release', '?')} (BTF: {run['kernel'].get('btf', '?')})"],
                 ["ODF variant", run["odf"].get("variant", "?")], ["ODF evidence", "; ".join(run["odf"].get("evidence", []))],
                 ["odfbench", f"{tool.get('version', '?')} (git {tool.get('git', '?')}), results schema {d.get('schema', '?')}"],
                 ["started / finished", f"{run.get('started', '?')} / {run.get('finished', '?')}"], ["status", run.get("status", "?")],
                 ["where", where(d)], ["measured kernel's view of the machine", json.dumps(run.get("host", {}))]]
        if isinstance(vm, dict):
            kb = vm.get("kernel_build")
            built = (f"variant {kb.get('variant', '?')}, commit {kb.get('commit') or kb.get('debian_version', '?')}, "
                     f".config SHA-256 {str(kb.get('config_sha256', '?'))[:16]}, recipe SHA-256 {str(kb.get('recipe_sha256', '?'))[:16]}, "
                     f"{kb.get('compiler', 'Debian package')}, built {kb.get('built', '?')} (odfbench kernel build)"
                     if isinstance(kb, dict) else "an image given by path: no build provenance recorded")
            facts += [["kernel build", f"{vm.get('kernel_image', '?')} ({vm.get('kernel_image_bytes', '?')} bytes); {built}"],
                      ["QEMU", f"{vm.get('qemu', '?')}, {vm.get('smp', '?')} vCPUs, {vm.get('mem_bytes', 0) / (1 << 30):.1f} GiB"],
                      [("accelerator", None), (f"{vm.get('accelerator', '?')}: {vm.get('accelerator_reason', '')}",
                                               "warn" if vm.get("accelerator") == "tcg" else None)],
                      ["physical host", f"{vm.get('host_kernel', '?')}; {json.dumps(vm.get('host', {}))}"]]
        else:
            facts.append(["kernel build", "the running host kernel; build provenance not recorded"])
        if run["odf"].get("tfork_guard"):
            facts.append(["tfork guard", json.dumps(run["odf"]["tfork_guard"])])
        facts.append(["capabilities", json.dumps(run.get("capabilities", {}))])
        probes = [[pr.get("name", "?"), pr.get("concern", ""), pr.get("mechanism", ""), pr.get("program_type", ""),
                   ("attached", "good") if pr.get("attached") else ("not attached", "na"), pr.get("reason", "")]
                  for pr in run.get("probes", [])]
        blocks.append(Details(f"Run {i}: {op.run_label(p, d)}", [
            Table(["fact", "value"], facts, "facts"),
            P("Probes and their mechanisms:"),
            Table(["probe", "concern", "mechanism", "program type", "attached", "reason"], probes),
            Details("Spec", [Pre(json.dumps(run.get("spec", {}), indent=1))])], open_=True))
    return Section("provenance", "Provenance per run", blocks)


def build(paths, comparison, tool):
    runs, checks = classify(paths)
    sections, omitted = [], []
    sections.append(summary_section(runs, checks, comparison))
    figs = []
    if runs:
        with tempfile.TemporaryDirectory(prefix="odfbench-report-") as tmp:
            sec, figs = figures_section(runs, comparison, tmp)
        sections.append(sec)
        sections.append(published_section(runs, comparison))
        nm = not_measured_section(runs)
        if nm:
            sections.append(nm)
        else:
            omitted.append("Not measured: every cell of every run was measured")
    else:
        omitted.append("Figures, published numbers, provenance: no results files among the inputs")
    if checks:
        sections.append(checks_section(checks))
    else:
        omitted.append("Correctness matrix: no `odfbench check --json -o FILE` file among the inputs")
    if runs:
        sections.append(provenance_section(runs))
    if omitted:
        sections.append(Section("omitted", "Not in this report", [P("; ".join(omitted) + ".")]))
    return header_blocks(runs, checks, tool), sections


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", required=True, help="HTML file to write")
    ap.add_argument("--markdown", help="markdown twin to write")
    ap.add_argument("--html-name", help="the HTML's final name, for the markdown's references")
    ap.add_argument("--compare", help="`odfbench compare --json` of the results files, in the same order")
    ap.add_argument("--tool", default="?", help="odfbench version")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    comparison = None
    if a.compare:
        with open(a.compare) as f:
            comparison = json.load(f)
    header, sections = build(a.files, comparison, a.tool)
    with open(a.html, "w") as f:
        f.write(render_html(header, sections))
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(render_markdown(header, sections, a.html_name or os.path.basename(a.html)))


if __name__ == "__main__":
    main()
