#!/bin/bash
# Every shard of an odfbench spec through GNU parallel:
#   bench/shards/parallel.sh SPEC N OUTDIR [PARALLEL_OPTION...]
# Locally one shard at a time (shards on one machine would disturb each other's
# timings); across machines, for example
#   bench/shards/parallel.sh bench/paper.json 3 results -S host1,host2,host3 \
#       --workdir /path/to/odfbench --return 'results/paper-{}-of-3.json'
# A failed shard does not stop the others; the exit status counts the failures.
# Then `odfbench compare` and `odfbench report` on OUTDIR/<spec>-*-of-N.json.
set -euo pipefail
spec=$1 n=$2 outdir=$3
shift 3
odfbench=${ODFBENCH:-build/odfbench}
name=$(basename "$spec" .json)
seq 1 "$n" | parallel --jobs 1 --halt never "$@" \
	"$odfbench" run "$spec" --shard "{}/$n" --no-progress -o "$outdir/$name-{}-of-$n.json"
