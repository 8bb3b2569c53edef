#!/usr/bin/env bash
# issue 25: what a cell's processes write to stderr never shares a line with the
# progress line ("setting upodfbench: cannot exec").  A run on a terminal (script(1)
# gives it one) whose server writes to stderr, a line and then a partial line, as it
# fails to start: each of its messages starts a line of its own, and still reaches
# the user.  Usage: progress_lines.sh ODFBENCH
set -u
bin=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A "redis-server" that complains on stderr (a line, then a partial line) and exits:
# the cell's own processes inherit the terminal, as a real server's start-up errors do.
cat >"$tmp/server" <<'SH2'
#!/bin/sh
echo STDERR-EARLY >&2
printf STDERR-PARTIAL >&2
exit 1
SH2
chmod +x "$tmp/server"
cat >"$tmp/spec.json" <<JSON
{"name": "progress-lines", "modes": ["fork"], "reps": 1, "warmup": 0,
 "experiments": [{"workload": "redis-snapshot", "sizes": ["16M"], "params": {"server": "$tmp/server"}}]}
JSON
script -qfec "$bin run $tmp/spec.json -o $tmp/out.json" "$tmp/tty.log" >/dev/null 2>&1 </dev/null
rc=$?
# The cell is an error (the server never came up), the run exits 1 and still writes its file.
[ $rc -eq 1 ] && [ -s "$tmp/out.json" ] || { echo "FAIL: the run (rc=$rc): $(tr '\r' '\n' <"$tmp/tty.log" | tail -5)"; exit 1; }
exec /usr/bin/python3 - "$tmp/tty.log" <<'PY'
import re, sys
raw = open(sys.argv[1], "rb").read().decode(errors="replace")
if "\r\x1b[K" not in raw:
    print("FAIL: no progress line was drawn (not a terminal?)"); sys.exit(1)
fails = []
for marker in ("STDERR-EARLY", "STDERR-PARTIAL"):
    hits = [l for l in raw.split("\n") if marker in l]
    if len(hits) != 1:
        fails.append(f"{marker} reached the terminal {len(hits)} times, not once")
    for l in hits:
        # what the terminal shows on that line: the text after the last carriage return
        before = l[:l.index(marker)].split("\r")[-1].replace("\x1b[K", "")
        if before:
            fails.append(f"{marker} shares a line with {before!r}")
for f in fails:
    print("FAIL:", f)
if fails:
    sys.exit(1)
print("progress_lines: the program's stderr lines each start a line of their own")
PY
