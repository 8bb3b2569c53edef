#!/usr/bin/env bash
# End to end: `odfbench kernel build` from a real source, then a boot of each
# image in which doctor identifies the variant.  A build takes 20+ minutes on
# 2 cores, so this runs only when a source is given, and is skipped otherwise:
#   ODFBENCH_KERNEL_SRC=/path/to/clone-or-mirror ctest -R kernel_build
#   ODFBENCH_KERNEL_VARIANTS="patchset-6.0.6" to build fewer
set -u
bin=$(realpath "$1")
if [ -z "${ODFBENCH_KERNEL_SRC:-}" ]; then
	echo "SKIPPED: set ODFBENCH_KERNEL_SRC to a clone or mirror of rssys/on-demand-fork to build and boot the kernels"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
declare -A want=([patchset-6.0.6]=patchset-6.0 [vanilla-6.0.6]=none [paper-5.6.19]=paper-5.6)
for v in ${ODFBENCH_KERNEL_VARIANTS:-patchset-6.0.6 vanilla-6.0.6 paper-5.6.19}; do
	if ! "$bin" kernel build "$v" --src "$ODFBENCH_KERNEL_SRC" --no-progress >"$tmp/$v.path" 2>"$tmp/$v.err"; then
		bad "$v: build failed"; tail -5 "$tmp/$v.err"; continue
	fi
	# A second build is the cache entry, not a build.
	"$bin" kernel build "$v" --src "$ODFBENCH_KERNEL_SRC" --no-progress >"$tmp/$v.path2" 2>"$tmp/$v.err2"
	if cmp -s "$tmp/$v.path" "$tmp/$v.path2" && grep -q "is cached" "$tmp/$v.err2"; then ok "$v: rebuild is a cache hit"; else bad "$v: rebuild was not a cache hit"; fi
	dir=$(dirname "$(cat "$tmp/$v.path")")
	if $py - "$dir/provenance.json" "$v" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["variant"] == sys.argv[2], p
assert len(p["commit"]) == 40 and len(p["config_sha256"]) == 64 and len(p["recipe_sha256"]) == 64, p
assert p["compiler"].startswith("gcc"), p["compiler"]
PY
	then ok "$v: provenance (commit, configuration hash, compiler)"; else bad "$v: provenance"; fi
	"$bin" vm --kernel "$v" --mem 2G --timeout 600 -- doctor --json >"$tmp/$v.doctor" 2>"$tmp/$v.verr"
	got=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["odf"]["variant"])' "$tmp/$v.doctor" 2>/dev/null)
	if [ "$got" = "${want[$v]}" ]; then ok "$v: boots, doctor says $got"; else bad "$v: doctor says '$got', want ${want[$v]}"; grep -v 'guest|' "$tmp/$v.verr" | tail -3; fi
done
echo "kernel_build: $pass passed, $fail failed"
[ $fail -eq 0 ]
