#!/usr/bin/env bash
# odfbench report: bad input is one line naming the problem, exit 2, before any
# work, and nothing written; an existing report is never overwritten.
set -u
bin=$(realpath "$1")
fx="$(cd "$(dirname "$0")" && pwd)/fixtures/results"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
mkdir "$tmp/in" "$tmp/out"
echo '{"results": [' >"$tmp/in/broken.json"
echo '{"kind": "something-else"}' >"$tmp/in/other.json"
echo '{"run": {"odf": {}}, "results": []}' >"$tmp/in/nokernel.json"
echo '{"run": {"kernel": {}, "odf": {}}, "results": [{"workload": "fork-latency"}]}' >"$tmp/in/noresult.json"
good="$fx/host-6.18-no-odf.json"
check() {  # expected substring, then report's arguments
	local want=$1; shift
	local out rc
	out=$(cd "$tmp/out" && "$bin" report "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$out" | grep -c .)" -eq 1 ] && [[ "$out" == *"$want"* ]] \
		&& [ -z "$(ls -A "$tmp/out")" ]; then
		:
	else
		echo "FAIL: report $* -> rc=$rc, want one line with '$want', got: $out"; ls -A "$tmp/out"; fail=1
	fi
	rm -rf "${tmp:?}/out/"* "${tmp:?}/out/".[!.]* 2>/dev/null
}
check "/nonexistent.json: no such file"                       /nonexistent.json -o r.html
check "broken.json: not valid JSON"                            "$good" "$tmp/in/broken.json" -o r.html
check "other.json: not an odfbench results file"               "$tmp/in/other.json" -o r.html
check "nokernel.json: not a complete odfbench results file (run.kernel missing)" "$tmp/in/nokernel.json" -o r.html
check "noresult.json: not a complete odfbench results file (a result without" "$tmp/in/noresult.json" -o r.html
check "directory $tmp/out/nodir does not exist"                "$good" -o "$tmp/out/nodir/r.html"
check "--markdown and -o name the same file"                   "$good" -o r.html --markdown ./r.html
check "files is required"                                      -o r.html
# An existing report: refused, untouched.
echo "keep me" >"$tmp/keep.html"
out=$("$bin" report "$good" -o "$tmp/keep.html" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"$tmp/keep.html already exists: odfbench never overwrites a report"* ]] \
	&& [ "$(cat "$tmp/keep.html")" = "keep me" ] || { echo "FAIL: existing output: rc=$rc $out"; fail=1; }
# A good run: both files, no temp files left, the path printed; a second run refuses.
out=$("$bin" report "$good" -o "$tmp/ok.html" --markdown "$tmp/ok.md" 2>&1); rc=$?
[ $rc -eq 0 ] && [ -s "$tmp/ok.html" ] && [ -s "$tmp/ok.md" ] && [[ "$out" == *"report: $tmp/ok.html"* ]] \
	|| { echo "FAIL: good run: rc=$rc $out"; fail=1; }
ls "$tmp" | grep -q 'tmp\.' && { echo "FAIL: temp files left: $(ls "$tmp")"; fail=1; }
"$bin" report "$good" -o "$tmp/ok.html" >/dev/null 2>&1 && { echo "FAIL: second run overwrote ok.html"; fail=1; }
[ $fail -eq 0 ] && echo "report_cli: bad input refused, nothing overwritten"
exit $fail
