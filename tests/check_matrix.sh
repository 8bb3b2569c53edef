#!/usr/bin/env bash
# odfbench check on this machine: every check passes under fork (or is
# unsupported for a reason the kernel gives), the ODF column never claims a
# result on a kernel without ODF, and the JSON and markdown agree.
set -u
bin=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" check --json --no-progress -o "$tmp/check.json" >"$tmp/stdout.json" 2>"$tmp/err"; rc=$?
/usr/bin/python3 - "$tmp/check.json" "$tmp/stdout.json" "$rc" <<'PY' || { cat "$tmp/err"; exit 1; }
import json, sys
doc = json.load(open(sys.argv[1]))
assert json.load(open(sys.argv[2])) == doc, "stdout JSON and -o file differ"
rc = int(sys.argv[3])
# Kernel features this host may lack; anything else must pass.
may_lack = {"ksm", "soft-dirty", "thp", "uffd-wp", "io-uring"}
problems = []
names = [c["name"] for c in doc["checks"]]
assert len(names) >= 25, names
for c in doc["checks"]:
    f = c["results"]["fork"]
    if c["group"] == "odf-interface":
        ok = f["status"] == "n/a"
    else:
        ok = f["status"] == "pass" or (f["status"] == "unsupported" and c["name"] in may_lack and f["detail"])
    if not ok:
        problems.append(f'{c["name"]}: {f["status"]} {f.get("detail", "")}')
    o = c["results"]["odf"]
    if doc["odf"]["variant"] == "none" and o["status"] != "unavailable":
        problems.append(f'{c["name"]}: odf column says {o["status"]} on a kernel without ODF')
    if f["status"] not in ("n/a",) and not isinstance(f.get("dmesg"), (list, str)):
        problems.append(f'{c["name"]}: no dmesg capture')
assert not problems, "\n".join(problems)
assert rc == 0, f"exit status {rc} with every check fine"
print(f"check_matrix: {len(names)} checks, fork column fine, odf column {doc['odf']['variant']}")
PY
"$bin" check --markdown --no-progress --only isolation >"$tmp/md" 2>/dev/null
grep -q '^| isolation-child-first | isolation | pass |' "$tmp/md" || { echo "FAIL: markdown"; cat "$tmp/md"; exit 1; }
