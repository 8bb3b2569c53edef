#!/usr/bin/env bash
# The README's recipes for running past one machine, run for real: the files in
# bench/shards/ (which the README quotes verbatim, checked here) through GNU
# parallel, and through a one-node Slurm cluster stood up from Debian's
# slurm-wlm and munge in a temporary directory.  Each merge must hold every cell
# of the spec exactly once; a cancelled array task must be named with its cells,
# and a rerun of that task alone must complete the set; one more array runs its
# shards under `odfbench vm` (a cluster whose nodes lack an ODF kernel).
# usage: shards.sh parallel|slurm ODFBENCH DEBIAN_KERNEL_DIR
# SHARDS_TIMING_SPEC=bench/quick.json shards.sh slurm ...: only step 1 on that spec
# (its wall time through Slurm in 3 shards against unsharded), then stop.
set -uo pipefail
mode=$1
bin=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/odfbench-shards.XXXXXX)
chmod 755 "$tmp"
daemons=()
# Processes of our cluster besides the daemons and their children: slurmstepd
# (slurmd daemonizes it, so its parent is init and stopping slurmd leaves it
# running) and the job under it.  All carry our SLURM_CONF; read with builtins
# only, as a forked reader would carry it too.
ours=()
find_ours() {
	local f p e st ppid
	ours=()
	[ -n "${SLURM_CONF:-}" ] || return 0
	for f in /proc/[0-9]*/environ; do
		p=${f#/proc/} p=${p%/environ}
		[ "$p" = $$ ] && continue
		mapfile -d '' e 2>/dev/null <"$f" || continue
		[[ " ${e[*]} " == *" SLURM_CONF=$SLURM_CONF "* ]] || continue
		read -r st 2>/dev/null <"/proc/$p/stat" || continue
		st=${st##*) } ppid=${st#* } ppid=${ppid%% *}
		[[ " ${daemons[*]} " == *" $p "* || " ${daemons[*]} " == *" $ppid "* ]] && continue
		ours+=("$p")
	done
}
cleanup() {
	local rc=$? pid left=()
	if [ -n "${SLURM_CONF:-}" ]; then
		# Jobs first, while slurmctld can still cancel them; then whatever is left.
		scancel --quiet --user root 2>/dev/null
		for _ in $(seq 50); do find_ours; [ ${#ours[@]} -eq 0 ] && break; sleep 0.2; done
		for pid in "${ours[@]}"; do kill "$pid" 2>/dev/null; done
	fi
	for pid in "${daemons[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${daemons[@]}" "${ours[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
	done
	# Never leave a daemon or a job behind: check, and say so if one survived.
	find_ours
	for pid in "${daemons[@]}" "${ours[@]}"; do
		kill -0 "$pid" 2>/dev/null && left+=("$pid $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)")
	done
	if [ ${#left[@]} -gt 0 ]; then
		printf 'FAIL: still running after the test: %s\n' "${left[@]}"
		rc=1
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT  # on SIGTERM too; trapping TERM would wait for sbatch --wait
fail() { echo "FAIL: $*"; exit 1; }

# The recipes cannot drift: the README quotes each file whole.
for f in bench/shards/parallel.sh bench/shards/slurm-array.sbatch; do
	$py - "$root/README.md" "$root/$f" "$f" <<'PY' || fail "README.md does not quote $f verbatim"
import sys
readme, body, name = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
marker = f"<!-- {name} -->\n```bash\n"
assert marker in readme, f"no '{marker.strip()}' block"
assert readme.split(marker, 1)[1].startswith(body + "```"), "the block differs from the file"
PY
done
echo "ok: README quotes bench/shards/ verbatim"

# A small spec: 9 cells, 3 per shard; the ODF cells say unavailable here.
cat >"$tmp/mini.json" <<'J'
{"name": "mini", "modes": ["fork", "odf", "odf-procfs"], "reps": 3, "warmup": 0,
 "experiments": [{"workload": "fork-latency", "sizes": ["8M", "16M"]},
                 {"workload": "post-fork-access", "sizes": ["8M"], "params": {"who": "child"}}]}
J
cells=9
spec=$tmp/mini.json
if [ -n "${SHARDS_TIMING_SPEC:-}" ]; then
	spec=$(realpath "$SHARDS_TIMING_SPEC")
	cells=auto  # the spec's total, as the shard files record it
fi

# Every cell of the spec exactly once, through compare (the merge) and report.
check_merge() {  # label, files...
	local label=$1; shift
	"$bin" compare "$@" --json --markdown "$tmp/$label.md" >"$tmp/$label.cmp.json" 2>"$tmp/$label.cmp.err" ||
		{ cat "$tmp/$label.cmp.err"; fail "$label: compare"; }
	grep -q "shards given" "$tmp/$label.cmp.err" && { cat "$tmp/$label.cmp.err"; fail "$label: compare says shards are missing"; }
	"$bin" report "$@" -o "$tmp/$label.html" >/dev/null 2>"$tmp/$label.rep.err" || { cat "$tmp/$label.rep.err"; fail "$label: report"; }
	grep -q "sharded and not whole" "$tmp/$label.html" && fail "$label: the report says shards are missing"
	$py - "$cells" "$@" <<'PY' || fail "$label: cells"
import json, sys
paths = sys.argv[2:]
total = json.load(open(paths[0]))["run"]["selection"]["total_cells"] if sys.argv[1] == "auto" else int(sys.argv[1])
seen = []
for p in paths:
    d = json.load(open(p))
    assert d["run"]["status"] == "complete", (p, d["run"]["status"])
    assert d["run"]["selection"]["total_cells"] == total, d["run"]["selection"]
    seen += [r["cell"] for r in d["results"]]
assert sorted(seen) == list(range(total)), f"cells {sorted(seen)}, want each of 0..{total - 1} once"
# fork and ODF of a workload at one size ran in the same shard, so on one machine
where = {}
for p in paths:
    for r in json.load(open(p))["results"]:
        key = (r["workload"], json.dumps(r["params"], sort_keys=True))
        assert where.setdefault(key, p) == p, f"{key} split across {where[key]} and {p}"
PY
	echo "ok: $label: $# shard files hold each of the spec's cells ($cells) once; compare and report merge them"
}

if [ "$mode" = parallel ]; then
	command -v parallel >/dev/null || fail "GNU parallel is not installed (make deps installs it)"
	mkdir "$tmp/p"
	ODFBENCH=$bin "$root/bench/shards/parallel.sh" "$tmp/mini.json" 3 "$tmp/p" >"$tmp/p.log" 2>&1 || { tail -20 "$tmp/p.log"; fail "parallel.sh"; }
	check_merge parallel "$tmp"/p/mini-*-of-3.json
	# A shard lost: the merge names it and its cells.
	"$bin" compare "$tmp/p/mini-1-of-3.json" "$tmp/p/mini-3-of-3.json" >/dev/null 2>"$tmp/lost.err"
	grep -q "shard 2/3 missing (cells 3, 4, 5)" "$tmp/lost.err" || { cat "$tmp/lost.err"; fail "a missing shard is not named with its cells"; }
	echo "ok: a missing shard is named with its cells"
	exit 0
fi

[ "$mode" = slurm ] || fail "mode: parallel or slurm"
for c in slurmctld slurmd munged sbatch squeue scontrol scancel sinfo; do
	command -v $c >/dev/null || { echo "SKIPPED: $c not installed (make deps installs slurm-wlm and munge)"; exit 77; }
done
kernel=$("$here/debian_kernel.sh" "${3:?debian kernel dir}") || fail "could not fetch a Debian cloud kernel"

# munge with its own key and socket; slurmctld and slurmd on localhost with a
# config of our own, on ports no system Slurm uses, every file in $tmp.
host=$(hostname -s)
s=$tmp/slurm
mkdir -p "$s/state" "$s/spool" "$s/munge"
chmod 700 "$s/munge"
dd if=/dev/urandom of="$s/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$s/munge/munge.key"
munged --force --foreground --key-file="$s/munge/munge.key" --socket="$s/munge/munge.sock" \
	--pid-file="$s/munge/munged.pid" --log-file="$s/munge/munged.log" --seed-file="$s/munge/munge.seed" &
daemons+=($!)
for _ in $(seq 50); do [ -S "$s/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$s/munge/munge.sock" ] || { cat "$s/munge/munged.log"; fail "munged did not start"; }
port=$((20000 + RANDOM % 20000))
cpus=$(nproc)
mem=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat >"$s/slurm.conf" <<C
ClusterName=odfbench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$s/munge/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$s/state
SlurmdSpoolDir=$s/spool
SlurmctldPidFile=$s/slurmctld.pid
SlurmdPidFile=$s/slurmd.pid
SlurmctldLogFile=$s/slurmctld.log
SlurmdLogFile=$s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=odfbench Nodes=$host Default=YES MaxTime=INFINITE State=UP
C
export SLURM_CONF=$s/slurm.conf
slurmctld -D -i -f "$s/slurm.conf" >"$s/slurmctld.out" 2>&1 &
daemons+=($!)
slurmd -D -f "$s/slurm.conf" -N "$host" >"$s/slurmd.out" 2>&1 &
daemons+=($!)
state=
for _ in $(seq 150); do
	state=$(sinfo -h -o %T 2>/dev/null | head -1)
	[ "$state" = idle ] && break
	sleep 0.2
done
[ "$state" = idle ] || { tail -5 "$s"/slurmctld.log "$s"/slurmd.log "$s"/*.out; fail "the one-node cluster did not come up (node: '${state}')"; }
echo "ok: a one-node Slurm cluster up on port $port ($cpus CPUs, $mem MiB)"

wait_job() {  # job id: until it has left the queue
	for _ in $(seq 1800); do
		[ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
		sleep 0.5
	done
	fail "job $1 still queued after 15 minutes"
}
array() {  # outdir, sbatch options...: submits the recipe, prints the job id
	local out=$1; shift
	(cd "$root" && ODFBENCH=$bin sbatch --parsable --output="$out/slurm-%A_%a.out" "$@" \
		bench/shards/slurm-array.sbatch "$spec" 3 "$out")
}

# 1. The array as the README gives it, timed against the same spec unsharded.
mkdir "$tmp/s1"
t0=$(date +%s%N)
job=$(array "$tmp/s1" --array=1-3 --wait) || { cat "$tmp"/s1/slurm-*.out; fail "sbatch --array=1-3 --wait"; }
t1=$(date +%s%N)
name=$(basename "$spec" .json)
check_merge slurm "$tmp"/s1/"$name"-*-of-3.*.json
t2=$(date +%s%N)
"$bin" run "$spec" --no-progress -o "$tmp/whole.json" >/dev/null 2>&1 || fail "the unsharded run"
t3=$(date +%s%N)
echo "ok: wall time, 3 shards through Slurm: $(( (t1 - t0) / 1000000 )) ms; the same spec unsharded: $(( (t3 - t2) / 1000000 )) ms"
if [ -n "${SHARDS_TIMING_SPEC:-}" ]; then
	$py - "$tmp"/s1/"$name"-*-of-3.*.json "$tmp/whole.json" <<'PY'
import json, sys
for p in sys.argv[1:]:
    d = json.load(open(p))
    st = {}
    for r in d["results"]:
        st[r["status"]] = st.get(r["status"], 0) + 1
    print(f"  {p.rsplit('/', 1)[-1]}: {st}")
PY
	exit 0
fi

# 2. Task 2 cancelled before it ran: the merge names shard 2 and its cells;
#    a rerun of task 2 alone completes the set.
mkdir "$tmp/s2"
job=$(array "$tmp/s2" --array=1-3 --hold) || fail "sbatch --hold"
scancel "${job}_2" || fail "scancel ${job}_2"
scontrol release "$job" >/dev/null 2>&1
wait_job "$job"
ls "$tmp"/s2/mini-2-of-3.*.json >/dev/null 2>&1 && fail "the cancelled task wrote results"
"$bin" compare "$tmp"/s2/mini-*-of-3.*.json >/dev/null 2>"$tmp/s2.err"
grep -q "shard 2/3 missing (cells 3, 4, 5)" "$tmp/s2.err" || { cat "$tmp/s2.err"; fail "the cancelled shard is not named with its cells"; }
"$bin" report "$tmp"/s2/mini-*-of-3.*.json -o "$tmp/s2.html" >/dev/null 2>&1 || fail "report on a partial set"
grep -q "shard 2/3 missing" "$tmp/s2.html" || fail "the report does not name the missing shard"
echo "ok: the cancelled task's shard is named with its cells by compare and report"
array "$tmp/s2" --array=2 --wait >/dev/null || { cat "$tmp"/s2/slurm-*.out; fail "rerun of task 2"; }
check_merge rerun "$tmp"/s2/mini-*-of-3.*.json

# 3. Shards under odfbench vm inside the job (ODF kernels need not be on the nodes).
mkdir "$tmp/s3"
ODFBENCH_VM_KERNEL=$kernel array "$tmp/s3" --array=1-3 --wait >/dev/null ||
	{ tail -20 "$tmp"/s3/slurm-*.out; fail "the vm array"; }
check_merge vm "$tmp"/s3/mini-*-of-3.*.json
$py - "$tmp"/s3/mini-*-of-3.*.json <<'PY' || fail "vm shards did not run in a guest"
import json, sys
for p in sys.argv[1:]:
    vm = json.load(open(p))["run"]["environment"]["vm"]
    assert vm and vm["accelerator"] in ("kvm", "tcg"), (p, vm)
PY
echo "ok: each shard of the vm array ran in a guest"

# Nothing left: our daemons stop in the trap; no job of ours is queued.
[ -z "$(squeue -h 2>/dev/null)" ] || fail "jobs still queued"
exit 0
