#!/usr/bin/env bash
# End to end on a real ODF kernel image, through `odfbench vm`:
#   ODFBENCH_KERNEL=/path/to/odf/bzImage ctest -R odf_kernel
# Without ODFBENCH_KERNEL it skips (exit 77) and says so.  Checks: the variant
# is identified with evidence; the ODF probes attach; every ODF trial is
# verified and every fork trial shows no sharing; the table counters match
# arithmetic (tables shared ~ size / 2 MiB; after the child writes every page,
# tables copied on demand ~ size / 2 MiB).
set -u
bin=$(realpath "$1")
if [ -z "${ODFBENCH_KERNEL:-}" ]; then
	echo "SKIPPED: set ODFBENCH_KERNEL to an ODF kernel image (bzImage) to run the end-to-end ODF test"
	exit 77
fi
[ -r "$ODFBENCH_KERNEL" ] || { echo "FAIL: ODFBENCH_KERNEL=$ODFBENCH_KERNEL is not readable"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
vm() { "$bin" vm --kernel "$ODFBENCH_KERNEL" --mem 4G --timeout 1200 "$@"; }

vm -- doctor --json >"$tmp/doctor.json" 2>"$tmp/doctor.err" || { tail -20 "$tmp/doctor.err"; echo "FAIL: doctor"; exit 1; }
vm -- run -w fork-latency -s 64M,256M,1G -m fork,odf,odf-procfs -n 5 --warmup 1 --no-progress -o "$tmp/fl.json" 2>"$tmp/fl.err" \
	|| { tail -20 "$tmp/fl.err"; echo "FAIL: fork-latency run"; exit 1; }
vm -- run -w post-fork-access -s 256M -m fork,odf,odf-procfs -n 3 --warmup 1 --no-progress -o "$tmp/pfa.json" 2>"$tmp/pfa.err" \
	|| { tail -20 "$tmp/pfa.err"; echo "FAIL: post-fork-access run"; exit 1; }
$py - "$tmp/doctor.json" "$tmp/fl.json" "$tmp/pfa.json" <<'PY'
import json, sys
doctor, fl, pfa = (json.load(open(p)) for p in sys.argv[1:4])
variant = doctor["odf"]["variant"]
assert variant in ("patchset-6.0", "paper-5.6"), f"not an ODF kernel: {variant} {doctor['odf']['evidence']}"
assert doctor["odf"]["evidence"], "no evidence"
probes = {p["name"]: p for p in doctor["probes"]}
want = ["copy_page_range", "copy_pte_range", "handle_cow_pte", "cow_pte_fallback"] if variant == "patchset-6.0" \
    else ["copy_page_range_tfork", "tfork_one_pte_table"]
for n in want:
    assert probes[n]["attached"] and probes[n]["mechanism"] in ("fentry", "kprobe"), probes[n]
problems = []
for r in fl["results"]:
    size = int(r["params"]["size_bytes"])
    tables = size // (2 << 20)
    if r["status"] != "ok":
        problems.append(f"{r['params']['size']} {r['mode']}: {r['status']} {r.get('reason')}")
        continue
    for t in r["trials"]:
        if r["mode"] == "fork":
            if t["sharing_observed"] or t["odf_verified"]:
                problems.append(f"fork trial shows sharing: {t}")
            if variant == "patchset-6.0" and not t["cpte_fork"] >= tables:
                problems.append(f"fork copied {t['cpte_fork']} tables, region has {tables}")
        else:
            if not t["odf_verified"]:
                problems.append(f"{r['mode']} trial not verified: {t}")
            if not tables <= t["tables_shared_est"] <= tables * 1.1 + 16:
                problems.append(f"{r['params']['size']} {r['mode']}: {t['tables_shared_est']} tables shared, expected ~{tables}")
for r in pfa["results"]:
    tables = int(r["params"]["size_bytes"]) // (2 << 20)
    if r["status"] != "ok":
        problems.append(f"post-fork-access {r['mode']}: {r['status']} {r.get('reason')}")
        continue
    if r["mode"] == "fork" or variant != "patchset-6.0":
        continue
    for t in r["trials"]:
        if not tables <= t["cpte_fault"] <= tables * 1.1 + 16:
            problems.append(f"post-fork-access {r['mode']}: {t['cpte_fault']} tables copied on demand, expected ~{tables}")
assert not problems, "\n".join(problems)
print(f"odf_kernel: {variant} verified end to end")
PY
