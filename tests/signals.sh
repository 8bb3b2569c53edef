#!/usr/bin/env bash
# Interruption, for real: a run is started and killed.  Afterwards there must be
# no process of it, no BPF program of it, no scratch directory, and a valid
# results file with status "interrupted" holding every cell finished so far.
set -u
bin=$(realpath "$1")
schema=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
progs() { bpftool prog show 2>/dev/null | grep -c '^[0-9]*:'; }
cells_before=$(ls -d /tmp/odfbench-cell-* 2>/dev/null | wc -l)

# Wait (at most 10 s) until nothing of the run tagged $1 is left.
leftovers() {
	local tag=$1 base=$2
	for _ in $(seq 100); do
		if ! pgrep -f -- "$tag" >/dev/null && [ "$(progs)" -le "$base" ] && ! pgrep -x redis-server -f >/dev/null 2>&1 &&
		   [ "$(ls -d /tmp/odfbench-cell-* 2>/dev/null | wc -l)" -le "$cells_before" ]; then
			return 0
		fi
		sleep 0.1
	done
	pgrep -af -- "$tag"; echo "BPF programs: $(progs) (before: $base)"; ls -d /tmp/odfbench-cell-* 2>/dev/null
	return 1
}

valid_interrupted() {  # file, minimum number of cells
	$py "$here/validate_results.py" "$schema" "$1" && $py -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["run"]["status"] == "interrupted", j["run"]["status"]
assert len(j["results"]) >= int(sys.argv[2]), len(j["results"])
' "$1" "$2"
}

# 1-2. SIGINT, then SIGTERM, 2 s into a 1 GB sweep.
base=$(progs)
for sig in INT TERM; do
	"$bin" run -w fork-latency -s 64M,1G,1G -m fork -n 200 --warmup 0 --no-progress -o "$tmp/$sig.json" 2>"$tmp/$sig.err" &
	pid=$!
	sleep 2
	kill -$sig $pid; wait $pid; rc=$?
	if [ $rc -eq 130 ] && leftovers "$tmp/$sig.json" "$base" && valid_interrupted "$tmp/$sig.json" 1; then
		ok "SIG$sig 2 s in: exit 130, nothing left, valid interrupted file"
	else bad "SIG$sig (rc=$rc)"; tail -3 "$tmp/$sig.err"; fi
done

# 3. A second Ctrl-C exits at once and still leaves nothing behind.
"$bin" run -w fork-latency -s 1G -m fork -n 500 --warmup 0 --no-progress -o "$tmp/twice.json" 2>"$tmp/twice.err" &
pid=$!
sleep 2
kill -INT $pid; sleep 0.05; kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && leftovers "$tmp/twice.json" "$base" && $py -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/twice.json"; then
	ok "second SIGINT: immediate exit, nothing left, the file still parses"
else bad "second SIGINT (rc=$rc)"; tail -3 "$tmp/twice.err"; fi

# 4. Redis is stopped and its files removed when the run is interrupted.
"$bin" run -w redis-snapshot -s 128M -m fork -n 50 --warmup 0 --no-progress -o "$tmp/redis.json" 2>"$tmp/redis.err" &
pid=$!
for _ in $(seq 100); do pgrep -x redis-server >/dev/null && break; sleep 0.1; done
sleep 2
kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && leftovers "$tmp/redis.json" "$base" && valid_interrupted "$tmp/redis.json" 1; then
	ok "redis run interrupted: redis-server gone, scratch removed"
else bad "redis interrupt (rc=$rc)"; tail -3 "$tmp/redis.err"; pgrep -a redis-server; fi

# 5. A trial child killed by a signal is an error entry, and the run goes on.
"$bin" run -w external -s 1M -m fork -n 1 --warmup 0 --no-progress -o "$tmp/killed.json" \
	--params '{"command": ["/bin/sh", "-c", "kill -SEGV $$"], "metric": {"name": "x", "regex": "(1)"}}' 2>"$tmp/killed.err"; rc=$?
if [ $rc -eq 1 ] && $py -c '
import json, sys
j = json.load(open(sys.argv[1]))
r = j["results"][0]
assert j["run"]["status"] == "failed" and r["status"] == "error" and "killed by SIGSEGV" in r["reason"], r
' "$tmp/killed.json"; then ok "a child killed by SIGSEGV: error entry, run finished"; else bad "killed child (rc=$rc)"; cat "$tmp/killed.err"; fi

echo "signals: $pass passed, $fail failed"
[ $fail -eq 0 ]
