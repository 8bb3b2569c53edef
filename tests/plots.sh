#!/usr/bin/env bash
# The figure scripts on committed results (real ODF 6.0.6 and 5.6.19 runs under
# QEMU, and a run on a kernel without ODF): every expected figure appears, non-empty,
# with the paper's reference marks; without ODF the figure says so.
set -u
here=$(cd "$(dirname "$0")" && pwd)
fx="$here/fixtures/results"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
fail=0
# The figure library's own checks (median CI ranks against exact binomial sums, reading the harness's intervals).
$py "$here/../plots/odfplots.py" >"$tmp/self.log" || { echo "FAIL: odfplots self-test"; cat "$tmp/self.log"; fail=1; }
$py "$here/../plots/make_figures.py" -o "$tmp/both" "$fx/odf-6.0.6-tcg.json" "$fx/host-6.18-no-odf.json" >"$tmp/both.log" || { cat "$tmp/both.log"; exit 1; }
for f in fork_latency speedup child_pgtables post_fork_access table_copy redis_latency redis_latency_cdf fuzz; do
	for ext in png svg; do
		[ -s "$tmp/both/$f.$ext" ] || { echo "FAIL: $f.$ext missing or empty"; fail=1; }
	done
done
grep -q "published (paper): fork" "$tmp/both/fork_latency.svg" || { echo "FAIL: no published paper reference in fork_latency"; fail=1; }
# Footprint axes read as sizes (64M, 256M, 1G), not as powers of two of GiB.
for f in fork_latency speedup child_pgtables; do
	for t in 64M 256M 1G; do
		grep -q ">$t</text>" "$tmp/both/$f.svg" || { echo "FAIL: $f: no '$t' tick label"; fail=1; }
	done
	grep -q "footprint (GiB" "$tmp/both/$f.svg" && { echo "FAIL: $f: footprint still in GiB"; fail=1; }
done
# Every figure states n and the interval (or that there is none) in its caption.
for f in fork_latency speedup child_pgtables post_fork_access table_copy redis_latency fuzz; do
	grep -q "n = [0-9]" "$tmp/both/$f.svg" || { echo "FAIL: $f: caption without n"; fail=1; }
done
grep -q "Hollow markers / hatched bars: interval not defined" "$tmp/both/post_fork_access.svg" \
	|| { echo "FAIL: post_fork_access: cells without an interval are not marked"; fail=1; }
# post_fork_access: the fork, the fault phase and the cost per fault on separate scales.
[ "$(grep -c '<g id="axes_' "$tmp/both/post_fork_access.svg")" -eq 3 ] || { echo "FAIL: post_fork_access: want 3 panels"; fail=1; }
grep -q ">per fault (µs)</text>" "$tmp/both/post_fork_access.svg" || { echo "FAIL: post_fork_access: no per-fault panel"; fail=1; }
# TCG runs say so on the figure.
grep -q "absolute times are not bare-metal" "$tmp/both/fork_latency.svg" || { echo "FAIL: no TCG warning"; fail=1; }
grep -q "ODF not measured" "$tmp/both/fork_latency.svg" && { echo "FAIL: ODF was measured in the 6.0.6 run"; fail=1; }
# Both ODF kernels in one figure (the paper's 5.6.19 run is fork-latency only): one
# series per kernel variant, labelled with it.
$py "$here/../plots/make_figures.py" -o "$tmp/kernels" "$fx/odf-6.0.6-tcg.json" "$fx/odf-paper-5.6-tcg.json" >"$tmp/kernels.log" || { cat "$tmp/kernels.log"; exit 1; }
for v in "paper-5.6" "patchset-6.0"; do
	grep -q "odf — [0-9.]* ($v" "$tmp/kernels/fork_latency.svg" || { echo "FAIL: no odf series for $v in fork_latency"; fail=1; }
	# table_copy: small multiples, one row of panels (at fork, after fork) per kernel
	[ "$(grep -c ">[0-9.]* ($v, VM tcg)</text>" "$tmp/kernels/table_copy.svg")" -eq 2 ] \
		|| { echo "FAIL: table_copy: want one row of two panels for $v"; fail=1; }
done
[ "$(grep -c '<g id="axes_' "$tmp/kernels/table_copy.svg")" -eq 4 ] || { echo "FAIL: table_copy: want 2 kernels x 2 phases"; fail=1; }
# Each kernel its own color family: the two fork series differ in color (first run reds, second blues).
grep -q "stroke: #67000d" "$tmp/kernels/fork_latency.svg" && grep -q "stroke: #08306b" "$tmp/kernels/fork_latency.svg" \
	|| { echo "FAIL: fork series of the two kernels share a color"; fail=1; }
# A kernel without ODF: fork data still plotted, and the figure says ODF was not measured.
$py "$here/../plots/make_figures.py" -o "$tmp/host" "$fx/host-6.18-no-odf.json" >"$tmp/host.log" || { cat "$tmp/host.log"; exit 1; }
grep -q "ODF not measured" "$tmp/host/fork_latency.svg" || { echo "FAIL: no 'ODF not measured' note"; fail=1; }
grep -q "skipped table_copy" "$tmp/host.log" || { echo "FAIL: table_copy should be skipped without ODF counters"; fail=1; }
# The landscape (issue #15) on a run of this host: one figure per workload with one
# series per strategy, and the latency CDF during the snapshot; make_figures makes them too.
$py "$here/../plots/landscape.py" -o "$tmp/land" "$fx/host-6.18-landscape.json" >"$tmp/land.log" || { cat "$tmp/land.log"; exit 1; }
for f in landscape_fork_latency landscape_fork_exec landscape_snapshot landscape_snapshot_cdf; do
	[ -s "$tmp/land/$f.svg" ] && [ -s "$tmp/land/$f.png" ] || { echo "FAIL: $f missing or empty"; fail=1; }
done
for m in fork mthp-16K mthp-64K thp; do grep -q ">$m<" "$tmp/land/landscape_fork_latency.svg" || { echo "FAIL: no $m series in landscape_fork_latency"; fail=1; }; done
for m in vfork posix-spawn; do grep -q ">$m<" "$tmp/land/landscape_fork_exec.svg" || { echo "FAIL: no $m series in landscape_fork_exec"; fail=1; }; done
grep -q "uffd-wp 1G" "$tmp/land/landscape_snapshot_cdf.svg" || { echo "FAIL: no uffd-wp curve in the snapshot CDF"; fail=1; }
$py "$here/../plots/make_figures.py" -o "$tmp/landmf" "$fx/host-6.18-landscape.json" >"$tmp/landmf.log" || { cat "$tmp/landmf.log"; exit 1; }
[ -s "$tmp/landmf/landscape_fork_latency.svg" ] || { echo "FAIL: make_figures made no landscape"; fail=1; }
# Bad input: one clear line, non-zero.
out=$($py "$here/../plots/make_figures.py" -o "$tmp/x" /nonexistent.json 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"/nonexistent.json: no such results file"* ]] || { echo "FAIL: bad input: rc=$rc $out"; fail=1; }
# Fork and fault anatomy (issue #24) on both ODF kernels' runs, whose trials keep
# their phases and whose cells keep the merged histograms: one CDF panel per size
# with each kernel's table-copy faults drawn apart, and the phase bars, which say
# what the paper kernel could not give.
$py "$here/../plots/make_figures.py" -o "$tmp/anat" "$fx/anatomy-6.0.6-tcg.json" "$fx/anatomy-paper-5.6-tcg.json" >"$tmp/anat.log" ||
	{ cat "$tmp/anat.log"; exit 1; }
for f in fault_latency_cdf fork_phases; do
	[ -s "$tmp/anat/$f.svg" ] || { echo "FAIL: $f.svg missing or empty"; fail=1; }
done
[ "$(grep -c '<g id="axes_' "$tmp/anat/fault_latency_cdf.svg")" -eq 2 ] || { echo "FAIL: fault_latency_cdf: want one panel per size (256M, 1G)"; fail=1; }
[ "$(grep -c 'table-copy faults only' "$tmp/anat/fault_latency_cdf.svg")" -eq 4 ] ||
	{ echo "FAIL: fault_latency_cdf: want the table-copy faults of 2 kernels x 2 sizes apart"; fail=1; }
grep -q "within 1/32" "$tmp/anat/fault_latency_cdf.svg" || { echo "FAIL: fault_latency_cdf: no bucket error"; fail=1; }
grep -q "page-table allocation" "$tmp/anat/fork_phases.svg" || { echo "FAIL: fork_phases: no __pte_alloc in the legend"; fail=1; }
grep -q "dup_mm.isra.0" "$tmp/anat/fork_phases.svg" || { echo "FAIL: fork_phases: the paper kernel's missing dup_mm is not said"; fail=1; }
grep -q "skipped fault_latency_cdf" "$tmp/host.log" || { echo "FAIL: fault_latency_cdf drawn without histograms"; fail=1; }
[ $fail -eq 0 ] && echo "plots: all figures present"
exit $fail
