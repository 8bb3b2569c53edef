#!/usr/bin/env bash
# odfbench report on the committed ODF 6.0.6 and 5.6.19 runs, the host run and (as
# root) a check matrix of this machine, loaded from disk by headless Chromium: no
# console error or network request, every figure a rendered SVG, every table there.
# The page and its screenshot stay in $2 for a person to look at.
set -u
bin=$(realpath "$1")
out=$2
here=$(cd "$(dirname "$0")" && pwd)
fx="$here/fixtures/results"
if ! command -v chromium >/dev/null; then
	[ "${CI:-}" = true ] && { echo "FAIL: chromium not installed (make deps installs it)"; exit 1; }
	echo "SKIP: chromium not installed (make deps installs it)"; exit 77
fi
rm -rf "$out" && mkdir -p "$out"
inputs=("$fx/odf-6.0.6-tcg.json" "$fx/odf-paper-5.6-tcg.json" "$fx/host-6.18-no-odf.json")
sections=summary,published,not-measured,provenance
if [ "$(id -u)" = 0 ]; then
	"$bin" check --json --no-progress --only isolation -o "$out/check.json" >/dev/null 2>"$out/check.err"
	[ -s "$out/check.json" ] || { echo "FAIL: odfbench check wrote nothing"; cat "$out/check.err"; exit 1; }
	inputs+=("$out/check.json")
	sections+=,checks
fi
"$bin" report "${inputs[@]}" -o "$out/report.html" --markdown "$out/report.md" >"$out/report.log" 2>&1 \
	|| { echo "FAIL: report"; cat "$out/report.log"; exit 1; }
grep -q "^report: $out/report.html$" "$out/report.log" || { echo "FAIL: report did not print its path"; cat "$out/report.log"; exit 1; }
fail=0
figures=fork_latency,speedup,child_pgtables,post_fork_access,table_copy,redis_latency,redis_latency_cdf,fuzz
/usr/bin/python3 "$here/report_browser.py" "$out/report.html" "$out/report.png" --figures "$figures" --sections "$sections" || fail=1
# What a reader must find on the page, not only in the JSON.
html="$out/report.html"
for want in "has no ODF" "QEMU TCG" "Published: numbers quoted" "6.0.6" "5.6.19" "6.18.44" \
	"speedup [95% CI]" "Probes and their mechanisms" "copy_pte_range" "accelerator"; do
	grep -qF "$want" "$html" || { echo "FAIL: the page lacks '$want'"; fail=1; }
done
grep -qiE '<script|<link|<img|src="http|url\(http|@import' "$html" && { echo "FAIL: external reference or script in the page"; fail=1; }
# The markdown twin says the same: same sections, same not-measured reasons.
for want in "## Summary" "## Figures" "## Published numbers beside ours" "## Not measured, and why" "## Provenance per run" "has no ODF"; do
	grep -qF "$want" "$out/report.md" || { echo "FAIL: the markdown lacks '$want'"; fail=1; }
done
# A failed check shows its kernel log lines.  The check file is edited here, for
# this rendering test only: one verdict turned into a failure with a log line.
if [ -s "$out/check.json" ]; then
	/usr/bin/python3 - "$out/check.json" "$out/check-failed.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
r = doc["checks"][0]["results"]["fork"]
r.update(status="fail", detail="RENDERING TEST: edited verdict", dmesg=["RENDERING TEST kernel log line: BUG: Bad page map"])
json.dump(doc, open(sys.argv[2], "w"))
PY
	"$bin" report "$out/check-failed.json" -o "$out/failed.html" >/dev/null 2>&1 || { echo "FAIL: report on a check file alone"; fail=1; }
	grep -q "<pre>RENDERING TEST kernel log line: BUG: Bad page map</pre>" "$out/failed.html" \
		|| { echo "FAIL: a failure's kernel log lines are not on the page"; fail=1; }
	grep -q '<td class="bad">fail</td>' "$out/failed.html" || { echo "FAIL: the failure is not marked in the matrix"; fail=1; }
fi
[ $fail -eq 0 ] && echo "report_browser: $html and $out/report.png"
exit $fail
