#!/usr/bin/env bash
# The speed of usher cluster-sim (issue #11, docs/PERFORMANCE.md, "Cluster
# simulation"): three members, 1,000 accounts (streams:team, limits 2 to 20,
# a queue), Poisson arrivals at 1,000 requests/s over the accounts uniformly,
# exponential holds of mean 4 s, lease_ttl 30s, a crash and a restart of one
# member; SECONDS of traffic. Prints wall seconds and peak memory per run and
# their medians, and the same for the protocol alone (one request at the end
# of the span: beats and votes of 1,000 groups).
#
# usage: bench/cluster_sim_bench.sh BUILD_DIR [SECONDS=600] [REPEATS=3]
set -euo pipefail
build=${1:?usage: bench/cluster_sim_bench.sh BUILD_DIR [SECONDS] [REPEATS]}
span=${2:-600}
repeats=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
usher="$build/usher"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

{
  printf '[node]\nlease_ttl = 30s\n[cluster]\n'
  printf 'peers = a@127.0.0.1:7401, b@127.0.0.1:7402, c@127.0.0.1:7403\n'
  printf 'replicas = 0\nheartbeat = 500ms\nfailure_timeout = 2s\n'
  limits=(2 5 10 20)
  for i in $(seq 1 1000); do
    n=$(printf '%04d' "$i")  # as usher trace gen names 1,000 accounts
    printf '[account.acct-%s]\nkey = %s\nplan = streams:team\nlimit = %s\n' \
      "$n" "$(printf 'k%s' "$i" | sha256sum | cut -d' ' -f1)" "${limits[$((i % 4))]}"
    printf 'queue.max_depth = 5\nqueue.max_wait = 20s\n'
  done
} > "$work/cluster.ini"
"$usher" trace gen --out "$work/trace.csv" --span "$span" --rate 1000 --accounts 1000 --zipf 0 \
  --mean-duration 4 --seed 2 -q
printf 'arrival_s,account,duration_s\n%s,acct-0001,1\n' "$span" > "$work/protocol.csv"
printf 'delay 0.1ms..1ms\ncrash b at 20s\nrestart b at 40s\n' > "$work/faults.txt"

run() {  # run TRACE: "seconds kilobytes"
  /usr/bin/time -f '%e %M' -o "$work/time" "$usher" cluster-sim --config "$work/cluster.ini" \
    --trace "$1" --faults "$work/faults.txt" --out "$work/out" -q
  cat "$work/time"
}
rows=$(($(wc -l < "$work/trace.csv") - 1))
echo "$rows requests over $span s, 3 members, 1,000 accounts"
wall=() mem=() alone=()
for r in $(seq 1 "$repeats"); do
  read -r s kb < <(run "$work/trace.csv")
  read -r p _ < <(run "$work/protocol.csv")
  echo "run $r: $s s, $((kb / 1024)) MB; protocol alone $p s"
  wall+=("$s") mem+=("$kb") alone+=("$p")
done
m=$(printf '%s\n' "${wall[@]}" | median)
echo "median: $m s for $span simulated s ($(awk -v m="$m" -v s="$span" 'BEGIN {printf "%.0f", m * 3600 / s}') s per simulated hour)," \
  "$(( $(printf '%s\n' "${mem[@]}" | median | cut -d. -f1) / 1024 )) MB;" \
  "protocol alone $(printf '%s\n' "${alone[@]}" | median) s"
