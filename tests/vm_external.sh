#!/usr/bin/env bash
# issue 23: `vm` carries what a spec runs.  A small dynamically linked C
# program that forks is run as an `external` experiment in a guest (a Debian
# cloud kernel; the 6.0.6 ODF kernel too when it is cached), fork and odf
# modes, and its metric comes back; a Python script runs when its interpreter
# and stdlib are carried (params.files); bad input gets one clear line before
# any boot.  Usage: vm_external.sh ODFBENCH KERNEL_CACHE_DIR
set -u
bin=$(realpath "$1")
debian=$("$(dirname "$0")/debian_kernel.sh" "$2") || { echo "FAIL: could not fetch a Debian cloud kernel"; exit 1; }
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/vm-external-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }

# The program: forks N children that each write a page of a 16 MiB region it
# holds, and prints a rate; dynamically linked on purpose (libc + loader).
cat >"$tmp/forker.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(void)
{
	size_t n = 16 << 20;
	char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t i = 0; i < n; i += 4096) m[i] = 1;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int forks = 20;
	for (int i = 0; i < forks; ++i) {
		pid_t p = fork();
		if (p == 0) { m[i * 4096] = 2; _exit(m[(i + 1) * 4096] == 1 ? 0 : 1); }
		int st; waitpid(p, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("forks_per_s %.1f\n", forks / s);
	return 0;
}
C
# Under /tmp, where users build things: the guest's /tmp must keep what is carried there.
prog=$tmp/prog
mkdir -p "$prog"
cc -O2 -o "$prog/forker" "$tmp/forker.c" || { echo "FAIL: cc"; exit 1; }
file "$prog/forker" | grep -q dynamically || bad "forker is not dynamically linked"
pyver=$($py -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')
cat >"$prog/script.py" <<'PY'
import os, time
t = time.monotonic()
for i in range(5):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print(f"py_forks_per_s {5 / (time.monotonic() - t):.1f}")
PY
cat >"$tmp/spec.json" <<JSON
{"name": "vm-external", "modes": ["fork", "odf"], "reps": 2, "warmup": 0,
 "experiments": [
  {"workload": "external", "sizes": ["16M"],
   "params": {"command": ["$prog/forker"], "metric": {"name": "forks_per_s", "regex": "forks_per_s ([0-9.]+)", "higher_is_better": true}}},
  {"workload": "external", "sizes": ["16M"],
   "params": {"command": ["$py", "$prog/script.py"], "files": ["$prog/script.py", "/usr/lib/$pyver"],
              "metric": {"name": "py_forks_per_s", "regex": "py_forks_per_s ([0-9.]+)", "higher_is_better": true}}}]}
JSON
vm() { "$bin" vm --kernel "$1" --mem 2G --timeout 400 -- run "$tmp/spec.json" -o "$2" 2>"$2.err"; }
check() {  # results file, label, whether odf must be verified
	$py - "$1" "$3" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
odf_kernel = sys.argv[2] == "1"
cells = j["results"]
assert len(cells) == 4, [c["status"] for c in cells]
for c in cells:
    if c["mode"] == "odf" and not odf_kernel:
        assert c["status"] in ("unavailable", "not-applicable"), c  # no ODF on a Debian kernel
        continue
    name = c["params"]["command"][-1].split("/")[-1]
    if c["mode"] == "odf" and odf_kernel and c["status"] == "kernel-crash":
        # ODF corrupts 6.0.6's page tables in about 1 odf cell in 10, Python or
        # C alike: a storm of "Bad page map ... pmd:00000000" on the loader's or
        # libc's private file mapping, then an oops (docs/odf-findings.md).  A
        # kernel bug, not a carrying failure: what is asserted is that the suite
        # records it as a crash with the kernel's own line, never as a result.
        assert any(w in c["reason"] for w in ("BUG", "Oops", "fault", "panic")), c["reason"]
        assert c["console"] and not c["summary"], c  # the kernel's lines, and no number from a dead kernel
        print(f"note: {name} odf crashed the 6.0.6 kernel (a known ODF bug), recorded as:", c["reason"][:160])
        continue
    assert c["status"] == "ok", (c["params"]["command"], c["mode"], c.get("reason"))
    for t in c["trials"]:
        assert t["metric"] > 0, t
        if "forks" in t:  # the probe counts the program's own forks
            want = 20 if "forker" in c["params"]["command"][0] else 5
            assert t["forks"] == want, (t["forks"], want)
        if c["mode"] == "odf" and odf_kernel and "forker" in c["params"]["command"][0]:
            assert t["odf_flag_in_child"] is True, t
    print(c["params"]["command"][-1].split("/")[-1], c["mode"], [round(t["metric"], 1) for t in c["trials"]])
PY
}
if vm "$debian" "$tmp/deb.json" && check "$tmp/deb.json" debian 0; then ok "external C program and Python script in a Debian guest"
else bad "external in a Debian guest"; tail -5 "$tmp/deb.json.err"; fi

if k=$("$bin" kernel path patchset-6.0.6 2>/dev/null); then
	if vm patchset-6.0.6 "$tmp/odf.json" && check "$tmp/odf.json" odf 1; then ok "external C program and Python script on 6.0.6, fork and odf"
	else bad "external on 6.0.6"; tail -5 "$tmp/odf.json.err"; fi
else
	echo "skip: patchset-6.0.6 is not cached (odfbench kernel build patchset-6.0.6)"
fi

# Bad input: one line, non-zero, before any boot (fast).
one_line() {  # name, expected text, command...
	local name=$1 want=$2; shift 2
	local t0=$SECONDS out rc
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | grep -c .)" -eq 1 ] && grep -q -- "$want" <<<"$out" && [ $((SECONDS - t0)) -lt 20 ]; then
		ok "$name: $out"
	else bad "$name (rc=$rc): $out"; fi
}
sed "s|$prog/forker|$prog/no-such-program|" "$tmp/spec.json" >"$tmp/missing.json"
one_line "missing program" "no-such-program is not an executable on the host" \
	"$bin" vm --kernel "$debian" -- run "$tmp/missing.json" -o "$tmp/x1.json"
one_line "too large for --mem" "more than --mem" \
	"$bin" vm --kernel "$debian" --mem 256M --with /usr/lib -- run "$tmp/spec.json" -o "$tmp/x2.json"
one_line "--with a missing path" "does not exist on the host" \
	"$bin" vm --kernel "$debian" --with /no/such/path -- run "$tmp/spec.json" -o "$tmp/x3.json"

echo "vm_external: $pass passed, $fail failed"
[ $fail -eq 0 ]
