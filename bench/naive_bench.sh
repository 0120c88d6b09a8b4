#!/usr/bin/env bash
# Whole `usher simulate` runs against the naive reference program (issue #14,
# part 2; docs/PERFORMANCE.md "One core against a naive program"): process
# start to outputs written, on the 1-account and 1,000-account traces of
# usher_replay_bench, the two programs interleaved (usher, naive, usher, ...)
# so that a change of the machine's speed hits both alike. Checks that both
# count the same 200s, 408s and 429s, and prints every run and the medians.
#
# usage: bench/naive_bench.sh BUILD_DIR [REPEATS] [WORK_DIR]
#   BUILD_DIR  a build with usher and usher_naive_reference (-DUSHER_BENCHMARKS=ON)
#   REPEATS    runs of each program per trace (default 5)
#   WORK_DIR   where usher_replay_bench wrote its traces (default /tmp/usher-bench;
#              they are written there first when missing)
set -euo pipefail
. "$(dirname "$0")/common.sh"
build=${1:?usage: bench/naive_bench.sh BUILD_DIR [REPEATS] [WORK_DIR]}
repeats=${2:-5}
work=${3:-/tmp/usher-bench}
usher="$build/usher"
naive="$build/bench/usher_naive_reference"
out=$(mktemp -d /tmp/usher-naive-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

replay_traces "$build" "$work"
TIMEFORMAT='%R %U %S'
for name in streams-1m mix-1m; do
  trace="$work/$name.csv"
  rows=$(($(wc -l <"$trace") - 1))
  : >"$out/usher.t"
  : >"$out/naive.t"
  : >"$out/ratio.t"
  for r in $(seq 1 "$repeats"); do
    read -r uw uu us < <( { time "$usher" simulate --plan streams --set streams=10 --set queue.max_depth=5 \
      --trace "$trace" --out "$out/u" --threads 1 --quiet ; } 2>&1 )
    read -r nw nu ns < <( { time "$naive" "$trace" "$out/naive.csv" 10 5 60 ; } 2>&1 )
    echo "$uw" >>"$out/usher.t"
    echo "$nw" >>"$out/naive.t"
    awk -v u="$uw" -v n="$nw" 'BEGIN {print n / u}' >>"$out/ratio.t"
    printf '%s run %d: usher %.3f s wall (%.3f CPU), naive %.3f s wall (%.3f CPU), usher rate / naive rate %.2f\n' \
      "$name" "$r" "$uw" "$(awk -v a="$uu" -v b="$us" 'BEGIN {print a + b}')" "$nw" \
      "$(awk -v a="$nu" -v b="$ns" 'BEGIN {print a + b}')" "$(awk -v u="$uw" -v n="$nw" 'BEGIN {print n / u}')"
  done
  # Same decisions: status counts of the naive output against usher's summary.
  naive_counts=$(awk -F, 'NR > 1 {c[$2]++} END {printf "%d %d %d", c[200], c[408], c[429]}' "$out/naive.csv")
  usher_counts=$(python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["overall"]["status"]; print(o.get("200",0), o.get("408",0), o.get("429",0))' "$out/u/summary.json" 2>/dev/null || echo "?")
  um=$(median <"$out/usher.t")
  nm=$(median <"$out/naive.t")
  rm_=$(median <"$out/ratio.t")
  printf '%s (%d rows): median usher %.3f s (%.0f req/s), naive %.3f s (%.0f req/s), usher rate / naive rate %.2f (median per run); 200/408/429 usher %s, naive %s\n' \
    "$name" "$rows" "$um" "$(awk -v n="$rows" -v t="$um" 'BEGIN {print n / t}')" "$nm" \
    "$(awk -v n="$rows" -v t="$nm" 'BEGIN {print n / t}')" "$rm_" "$usher_counts" "$naive_counts"
done
