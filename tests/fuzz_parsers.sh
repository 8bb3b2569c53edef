#!/usr/bin/env bash
# 60 s of libFuzzer on the spec and size parsers, seeded with the shipped specs.
set -euo pipefail
fuzzer=$(realpath "$1"); shift
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
for d in "$@"; do cp "$d"/*.json "$corpus"/ 2>/dev/null || true; done
printf '64M' >"$corpus/size1"; printf '1.5G,12Q,-1G' >"$corpus/size2"
cd "$corpus"  # crash artifacts, if any, land here and are printed by libFuzzer
"$fuzzer" -max_total_time=60 -seed=1 -max_len=4096 -print_final_stats=1 "$corpus" 2>&1 | tail -15
