#!/usr/bin/env bash
# What-if sweep benchmark (issue #4, docs/PERFORMANCE.md "What-if sweeps"):
# a 100-variant sweep over a generated day-long 1M-row trace, timed at
# --jobs 1 and --jobs 2, runs interleaved (1, 2, 1, 2, ...) so that a change
# of the machine's speed hits both alike; prints every run and the medians.
#
# usage: bench/whatif_bench.sh BUILD_DIR [REPEATS] [TRACE]
#   BUILD_DIR  a build with the usher binary (e.g. build)
#   REPEATS    runs per job count (default 3)
#   TRACE      where the generated trace goes (default /tmp/usher-bench-1m.csv;
#              never inside the repository)
# environment (for the issue #14 case: RATE=4.96 VARY="--vary limit=1..12
# --vary queue.max_wait=30,60" and TRACE /tmp/usher-bench-200k.csv):
#   RATE       trace gen --rate for the generated day (default 24.8: about 1M rows)
#   VARY       the grid (default --vary limit=1..50 --vary queue.max_wait=30,60)
set -euo pipefail
. "$(dirname "$0")/common.sh"
build=${1:?usage: bench/whatif_bench.sh BUILD_DIR [REPEATS] [TRACE]}
repeats=${2:-3}
trace=${3:-/tmp/usher-bench-1m.csv}
usher="$build/usher"
out=$(mktemp -d /tmp/usher-whatif-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

if [ ! -s "$trace" ]; then
  # About 1M requests over one day, 100 accounts, busiest 9-17 (trace gen's diurnal pattern).
  "$usher" trace gen --out "$trace" --pattern diurnal --span 86400 --rate "${RATE:-24.8}" --accounts 100 \
    --mean-duration 10 --seed 4
fi
echo "trace: $trace ($(($(wc -l <"$trace") - 1)) rows)"
read -r -a vary <<<"${VARY:---vary limit=1..50 --vary queue.max_wait=30,60}"
sweep=(sweep --trace "$trace" --plan streams:team "${vary[@]}" -q)

declare -A times
for r in $(seq 1 "$repeats"); do
  for jobs in 1 2; do
    # Wall time, and CPU time of the process (user + system): with 2 jobs
    # the CPU time should stay that of 1 job, or the machine is busy.
    TIMEFORMAT='%R %U %S'
    read -r t u s < <( { time "$usher" "${sweep[@]}" --jobs "$jobs" --out "$out/j$jobs" ; } 2>&1 )
    times[$jobs]+="$t "
    printf 'run %d, --jobs %d: %.2f s wall, %.2f s CPU\n' "$r" "$jobs" "$t" "$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')"
  done
  cmp -s "$out/j1/sweep.csv" "$out/j2/sweep.csv" || { echo "sweep.csv differs between --jobs 1 and 2" >&2; exit 1; }
done
m1=$(echo "${times[1]}" | median)
m2=$(echo "${times[2]}" | median)
awk -v a="$m1" -v b="$m2" 'BEGIN {printf "median --jobs 1: %.2f s, --jobs 2: %.2f s, speed-up %.2fx\n", a, b, a / b}'
