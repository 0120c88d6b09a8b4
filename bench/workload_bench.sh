#!/usr/bin/env bash
# Workload benchmark (issue #3, docs/PERFORMANCE.md "Real traces and
# closed-loop workloads"): converting and replaying the largest shared trace,
# and a 2,000-account closed-loop workload generated inside the simulation.
# Each step runs REPEATS times, interleaved; prints every run (wall seconds,
# peak RSS from GNU time) and the medians.
#
# usage: bench/workload_bench.sh BUILD_DIR [REPEATS]
set -euo pipefail
. "$(dirname "$0")/common.sh"
build=${1:?usage: bench/workload_bench.sh BUILD_DIR [REPEATS]}
repeats=${2:-5}
usher="$build/usher"
traces=${USHER_TRACES:-$(cd "$(dirname "$0")/../.." && pwd)/shared/traces}
functions="$traces/azure-functions-2019-invitro/1350_inv.csv.gz"
[ -r "$functions" ] || { echo "skipped: $functions is absent (../shared/traces)" >&2; exit 0; }
out=$(mktemp -d /tmp/usher-workload-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

convert=(trace convert --from azure-functions "$functions" "$out/af.csv")
replay=(simulate -q --plan per-model --trace "$out/af.csv" --out "$out/af-out")
closed=(simulate -q --plan streams:team --stop 1h --out "$out/closed-out"
        --client "app:accounts=1000,behaviour=sdk,rate=0.05,duration=exp:10s"
        --client "bots:accounts=1000,behaviour=conversations,conversations=2,duration=exp:5s,think=exp:20s")

declare -A wall rss
run() {  # name, then the usher arguments
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$out/time" "$usher" "$@" >/dev/null
  read -r t m <"$out/time"
  wall[$name]+="$t "; rss[$name]+="$m "
  printf '%-8s %6.2f s wall, %6.1f MiB peak RSS\n' "$name" "$t" "$(awk -v k="$m" 'BEGIN {print k / 1024}')"
}
for r in $(seq 1 "$repeats"); do
  run convert "${convert[@]}"
  run replay "${replay[@]}"
  run closed "${closed[@]}"
done

rows=$(($(wc -l <"$out/af.csv") - 1))
requests=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['overall']['requests'])" "$out/closed-out/summary.json")
for name in convert replay closed; do
  t=$(echo "${wall[$name]}" | median); m=$(echo "${rss[$name]}" | median)
  n=$rows; [ "$name" = closed ] && n=$requests
  awk -v name="$name" -v t="$t" -v m="$m" -v n="$n" \
    'BEGIN {printf "median %-8s %6.2f s wall, %6.1f MiB peak RSS, %d rows or requests, %.0f per s\n", name, t, m / 1024, n, n / t}'
done
