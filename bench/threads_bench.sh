#!/usr/bin/env bash
# `usher simulate --threads N` against `--threads 1` (issue #14, part 1;
# docs/PERFORMANCE.md "One run on every core"): whole runs, process start to
# outputs written, on the 1,000-account and 1-account traces of
# usher_replay_bench, interleaved (1 thread, N threads, 1 thread, ...) so that
# a change of the machine's speed hits both alike. Checks that the outputs
# are byte-identical, and prints every run, the medians and peak memory.
#
# usage: bench/threads_bench.sh BUILD_DIR [REPEATS] [THREADS] [WORK_DIR]
#   BUILD_DIR  a build with usher and usher_replay_bench (-DUSHER_BENCHMARKS=ON)
#   REPEATS    runs of each per trace (default 5)
#   THREADS    the N compared with 1 (default 2)
#   WORK_DIR   where usher_replay_bench wrote its traces (default /tmp/usher-bench;
#              they are written there first when missing)
set -euo pipefail
. "$(dirname "$0")/common.sh"
build=${1:?usage: bench/threads_bench.sh BUILD_DIR [REPEATS] [THREADS] [WORK_DIR]}
repeats=${2:-5}
threads=${3:-2}
work=${4:-/tmp/usher-bench}
usher="$build/usher"
out=$(mktemp -d /tmp/usher-threads-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

replay_traces "$build" "$work"
# Wall seconds, CPU seconds and peak RSS (KiB) of one run into DIR.
run() {
  /usr/bin/time -f '%e %U %S %M' -o "$out/time" "$usher" simulate --plan streams --set streams=10 \
    --set queue.max_depth=5 --trace "$1" --out "$2" --threads "$3" --quiet
  awk '{printf "%s %.2f %d\n", $1, $2 + $3, $4}' "$out/time"
}
for name in mix-1m streams-1m; do
  trace="$work/$name.csv"
  rows=$(($(wc -l <"$trace") - 1))
  : >"$out/one.t"
  : >"$out/n.t"
  : >"$out/ratio.t"
  for r in $(seq 1 "$repeats"); do
    read -r w1 c1 m1 < <(run "$trace" "$out/one" 1)
    read -r wn cn mn < <(run "$trace" "$out/n" "$threads")
    for f in outcomes.csv timeseries.csv summary.json; do
      cmp -s "$out/one/$f" "$out/n/$f" || { echo "$name: $f differs between --threads 1 and $threads" >&2; exit 1; }
    done
    echo "$w1" >>"$out/one.t"
    echo "$wn" >>"$out/n.t"
    awk -v a="$w1" -v b="$wn" 'BEGIN {print a / b}' >>"$out/ratio.t"
    printf '%s run %d: --threads 1 %.3f s wall (%.2f CPU, %d MiB), --threads %d %.3f s wall (%.2f CPU, %d MiB), speed-up %.2f\n' \
      "$name" "$r" "$w1" "$c1" "$((m1 / 1024))" "$threads" "$wn" "$cn" "$((mn / 1024))" \
      "$(awk -v a="$w1" -v b="$wn" 'BEGIN {print a / b}')"
  done
  m1=$(median <"$out/one.t")
  mn=$(median <"$out/n.t")
  printf '%s (%d rows): median --threads 1 %.3f s (%.0f req/s), --threads %d %.3f s (%.0f req/s), speed-up %.2f (median per run); outputs identical\n' \
    "$name" "$rows" "$m1" "$(awk -v n="$rows" -v t="$m1" 'BEGIN {print n / t}')" "$threads" "$mn" \
    "$(awk -v n="$rows" -v t="$mn" 'BEGIN {print n / t}')" "$(median <"$out/ratio.t")"
done
