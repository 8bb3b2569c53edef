#!/usr/bin/env bash
# `make run`: the quick evaluation on this machine's kernel, then on the ODF
# kernels under `odfbench vm`, then figures, the compare table and the report.
#
#   HOST_ONLY=1            skip the kernels
#   KERNELS="a b"          variants to evaluate in a VM (default: patchset-6.0.6, plus
#                          paper-5.6.19 when it is cached)
#   KERNEL_SRC=DIR|URL     where to build a kernel from when it is not cached (default:
#                          the public GitHub repository)
#   SPEC=bench/quick.json  VM_MEM=4G  BUILD=build
# A kernel that cannot be had is not a failure of the host evaluation: the
# run says so in one line and goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bin=$BUILD/odfbench
SPEC=${SPEC:-bench/quick.json}
VM_MEM=${VM_MEM:-4G}
PY=/usr/bin/python3
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p results
outputs=() notes=() files=()
t0=$(date +%s)

say() { echo "make run: $*" >&2; }

"$bin" doctor || exit $?

host="results/quick-host-$stamp.json"
say "the quick spec on this machine's kernel ($(uname -r))"
"$bin" run "$SPEC" -o "$host"; rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then say "the host run failed (exit $rc)"; exit $rc; fi
files+=("$host"); outputs+=("results on this kernel: $host")

if [ -z "${HOST_ONLY:-}" ]; then
	kernels=${KERNELS:-}
	if [ -z "$kernels" ]; then
		kernels=patchset-6.0.6
		"$bin" kernel path paper-5.6.19 >/dev/null 2>&1 && kernels="$kernels paper-5.6.19"
	fi
	for k in $kernels; do
		if ! "$bin" kernel path "$k" >/dev/null 2>&1; then
			say "$k is not built yet: building it first (the one-time build takes about 20-25 minutes on 2 cores)"
			if ! "$bin" kernel build "$k" ${KERNEL_SRC:+--src "$KERNEL_SRC"}; then
				notes+=("$k: not evaluated, its kernel could not be built; with a clone or mirror of rssys/on-demand-fork: $bin kernel build $k --src DIR (or make run KERNEL_SRC=DIR)")
				continue
			fi
		fi
		out="results/quick-$k-$stamp.json"
		say "the quick spec on $k in a VM"
		"$bin" vm --kernel "$k" --mem "$VM_MEM" --timeout 3600 -- run "$SPEC" --no-progress -o "$out"; rc=$?
		if [ -f "$out" ]; then
			files+=("$out"); outputs+=("results on $k (VM): $out")
		else
			notes+=("$k: the VM sent no results (exit $rc); see the console lines above")
		fi
	done
fi

say "figures"
if $PY plots/make_figures.py -o plots "${files[@]}"; then outputs+=("figures: plots/*.png"); fi
cmp="results/compare-$stamp.md"
"$bin" compare "${files[@]}" --markdown "$cmp" && outputs+=("fork vs ODF table: $cmp")
rep="results/report-$stamp.html"
"$bin" report "${files[@]}" -o "$rep" && outputs+=("report: $rep")

echo
echo "make run: done in $(( $(date +%s) - t0 )) s. Where everything went:"
for o in "${outputs[@]}"; do echo "  $o"; done
for n in "${notes[@]}"; do echo "  note: $n"; done
exit 0
