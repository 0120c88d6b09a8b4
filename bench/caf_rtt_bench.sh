#!/usr/bin/env bash
# The floor under a forwarded admission (issue #10, docs/PERFORMANCE.md,
# "Cluster"): one CAF request and its answer between two processes over the
# middleman on loopback, nothing of usher's around it (bench/caf_rtt_bench.cpp).
# Both sides run the scheduler as `usher serve` does; CAF_RTT_POLICY=stealing
# runs CAF's default scheduler instead. Prints each run's p50/p90/p99 and the
# median p50.
#
# usage: bench/caf_rtt_bench.sh BUILD_DIR [REPEATS=5] [ROUND_TRIPS=20000]
set -euo pipefail
build=${1:?usage: bench/caf_rtt_bench.sh BUILD_DIR [REPEATS] [ROUND_TRIPS]}
repeats=${2:-5}
n=${3:-20000}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
bench="$build/bench/usher_caf_rtt_bench"
[[ -x $bench ]] || { echo "build $bench first (cmake --build $build --target usher_caf_rtt_bench)" >&2; exit 2; }
work=$(mktemp -d)
echo_pid=""
cleanup() { [[ -z $echo_pid ]] || kill "$echo_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(free_port)
# The echo side runs until its stdin closes: a fifo held open by this script.
mkfifo "$work/in"
"$bench" echo "$port" < "$work/in" > "$work/echo.out" 2>&1 &
echo_pid=$!
exec 3> "$work/in"
for _ in $(seq 50); do grep -qs listening "$work/echo.out" && break; sleep 0.1; done
grep -qs listening "$work/echo.out" || { cat "$work/echo.out" >&2; exit 1; }
p50s=()
for r in $(seq 1 "$repeats"); do
  line=$("$bench" ask "$port" "$n")
  echo "run $r: $line"
  p50s+=("$(sed -n 's/.*p50 \([0-9]*\) us.*/\1/p' <<< "$line")")
done
exec 3>&-
echo "median p50: $(printf '%s\n' "${p50s[@]}" | median) us"
