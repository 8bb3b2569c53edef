#!/usr/bin/env bash
# Bad input: one clear line that names the problem, a non-zero exit, and no
# work started (no results file left behind).
set -u
bin=$(realpath "$1")
runner=("$bin")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() {  # expected-substring, then the odfbench arguments
	local want=$1; shift
	local out rc
	out=$(cd "$tmp" && "${runner[@]}" "$@" 2>&1 >/dev/null); rc=$?
	local lines
	lines=$(printf '%s\n' "$out" | grep -c .)
	if [ $rc -ne 0 ] && [ "$lines" -eq 1 ] && [[ "$out" == *"$want"* ]] && [ -z "$(ls -A "$tmp")" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: odfbench $* -> rc=$rc, want one line containing '$want', got:"; echo "$out"; ls -A "$tmp"
	fi
	rm -rf "${tmp:?}"/*
}
echo '{"workload": "fork-latency", "sizes": [' > "$tmp.bad.json"
echo '{"workload": "fork-latency", "sizes": "64M", "reps": "ten"}' > "$tmp.types.json"
touch "$tmp.exists.json"
check 'unknown workload "nope"'      run -w nope -s 64M
check 'unknown mode "clone3"'        run -w fork-latency -s 64M -m fork,clone3
check 'invalid size "12Q"'           run -w fork-latency -s 64M,12Q
check 'invalid size "-1G"'           run -w fork-latency -s -1G
check 'invalid size "0"'             run -w fork-latency -s 0
check 'not valid JSON'               run "$tmp.bad.json"
check 'spec.reps: expected an integer' run "$tmp.types.json"
check 'cannot open'                  run /nonexistent/spec.json
check 'already exists'               run -w fork-latency -s 1M -n 1 -o "$tmp.exists.json"
check 'not writable'                 run -w fork-latency -s 1M -n 1 -o /proc/odfbench-results.json
check 'MemAvailable'                 run -w fork-latency -s 64T -n 1
check '--params: not valid JSON'     run -w fork-latency -s 1M --params '{thp'
check 'params.thp'                   run -w fork-latency -s 1M --params '{"thp": 3}'
check 'reps: 0 is out of range'     run -w fork-latency -s 1M -n 0
# vm: everything is checked before QEMU starts (the fake image only has the boot header magic).
{ head -c 514 /dev/zero; printf HdrS; } > "$tmp.bzImage"
check 'vm: --kernel /nonexistent/bzImage: no such file, and not a kernel variant' vm --kernel /nonexistent/bzImage -- doctor
check 'not a Linux x86 boot image'   vm --kernel /etc/passwd -- doctor
check 'no guest command'             vm --kernel "$tmp.bzImage"
check 'more than 80% of MemAvailable' vm --kernel "$tmp.bzImage" --mem 64T -- doctor
check 'invalid size "4X"'            vm --kernel "$tmp.bzImage" --mem 4X -- doctor
check '--smp: 0 is out of range'     vm --kernel "$tmp.bzImage" --smp 0 -- doctor
check '--accel: "xen" is not one of' vm --kernel "$tmp.bzImage" --accel xen -- doctor
check 'already exists'               vm --kernel "$tmp.bzImage" -- run -w fork-latency -s 1M -o "$tmp.exists.json"
check '--boots: 0 is out of range'    vm --kernel "$tmp.bzImage" --boots 0 -- run -w fork-latency -s 1M
check 'several kernels or --boots need a run command' vm --kernel "$tmp.bzImage" --boots 2 -- doctor
check '--jobs is for check on one kernel' vm --kernel "$tmp.bzImage" --jobs 2 -- run -w fork-latency -s 1M
check 'kernel: unknown variant "nope"' kernel build nope
check '--shard: 3/2 needs 1 <= I <= N' run -w fork-latency -s 1M --shard 3/2
check '--cells: 7 is beyond the spec' run -w fork-latency -s 1M --cells 7
check "reps: 1 is out of range"     overhead -n 1
check 'invalid size "3Q"'            overhead -s 3Q
check 'fault_reps: 2 is out of range' overhead --fault-reps 2
echo '{"kind": "overhead", "repz": 5}' > "$tmp.ov.json"
check 'unknown key "repz"'           overhead "$tmp.ov.json"
echo '{"kind": "run"}' > "$tmp.ov2.json"
check 'not an overhead config'       overhead "$tmp.ov2.json"
check 'not an odfbench overhead results file' overhead --report "$tmp.ov2.json"
check '--cell-timeout: 0 is out of range' run -w fork-latency -s 1M --cell-timeout 0
check 'cannot be vm itself'          vm --kernel "$tmp.bzImage" -- vm --kernel x
# Without root, run refuses before doing anything.
if command -v setpriv >/dev/null; then
	runner=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$bin")
	check 'needs root'               run -w fork-latency -s 1M -n 1 -o "$tmp/noroot.json"
	runner=("$bin")
fi
rm -f "$tmp.bad.json" "$tmp.types.json" "$tmp.exists.json" "$tmp.bzImage" "$tmp.ov.json" "$tmp.ov2.json"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
