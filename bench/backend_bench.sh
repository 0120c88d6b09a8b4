#!/usr/bin/env bash
# What the backend model costs a simulation (issue #13, part 3; docs/PERFORMANCE.md
# "The backend model"): whole `usher simulate` runs on the 1-account and the
# 1,000-account traces of usher_replay_bench, interleaved: trace durations
# (no backend), then the same plan with backend models whose replicas never
# slow down (a throughput curve linear in the streams, so a request's time is
# its trace duration: the same simulation, so the difference is the model's
# own cost), on 1 replica and on 100 (each start picks the least loaded), and
# the default curve on 50 replicas (requests slow down and queue inside the
# servers: a different, heavier simulation). The trace rows have no token
# counts, so each request's trace duration is its work alone. Prints every
# run, the medians, the cost per request and the mean hold of each.
#
# usage: bench/backend_bench.sh BUILD_DIR [REPEATS] [WORK_DIR]
#   BUILD_DIR  a build with usher and the replay bench (-DUSHER_BENCHMARKS=ON)
#   REPEATS    runs of each variant per trace (default 5)
#   WORK_DIR   where usher_replay_bench wrote its traces (default /tmp/usher-bench)
set -euo pipefail
. "$(dirname "$0")/common.sh"
build=${1:?usage: bench/backend_bench.sh BUILD_DIR [REPEATS] [WORK_DIR]}
repeats=${2:-5}
work=${3:-/tmp/usher-bench}
usher="$build/usher"
out=$(mktemp -d /tmp/usher-backend-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

replay_traces "$build" "$work"
variants=(durations linear-1 linear-100 default-50)
settings() {
  local linear="--set backend.max_streams=1000000 --set backend.throughput=1:100,1000000:100000000"
  case $1 in
    durations) echo "" ;;
    linear-1) echo "--set backend.replicas=1 $linear" ;;
    linear-100) echo "--set backend.replicas=100 $linear" ;;
    default-50) echo "--set backend.replicas=50" ;;
  esac
}
for name in streams-1m mix-1m; do
  trace="$work/$name.csv"
  rows=$(($(wc -l <"$trace") - 1))
  plan=streams:team; [ "$name" = streams-1m ] && plan=streams:platform
  for v in "${variants[@]}"; do : >"$out/$v.t"; done
  for r in $(seq 1 "$repeats"); do
    line="$name run $r:"
    for v in "${variants[@]}"; do
      # shellcheck disable=SC2046
      s=$( { /usr/bin/time -f %e "$usher" simulate --trace "$trace" --plan "$plan" $(settings "$v") \
        --out "$out/$v" --quiet >/dev/null; } 2>&1 )
      echo "$s" >>"$out/$v.t"
      line="$line $v $s s"
    done
    echo "$line"
  done
  base=$(median <"$out/durations.t")
  for v in "${variants[@]}"; do
    m=$(median <"$out/$v.t")
    held=$(python3 -c "import json,sys; print(json.load(open('$out/$v/summary.json'))['overall']['hold_s']['mean'])")
    awk -v n="$name" -v v="$v" -v m="$m" -v b="$base" -v rows="$rows" -v h="$held" 'BEGIN {
      printf "%s %-11s median %.3f s, %.0f requests/s, %.2f x durations, %+.0f ns per request, mean hold %s s\n",
        n, v, m, rows / m, m / b, (m - b) / rows * 1e9, h }'
  done
done
