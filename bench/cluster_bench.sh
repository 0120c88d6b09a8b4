#!/usr/bin/env bash
# The cluster benchmark of issue #10 (docs/PERFORMANCE.md, "Cluster"):
#   1. admit + release pairs per second and latency p50/p99, with the same
#      load generator (usher_live_bench) against: a node alone; a member of
#      a three-member cluster that owns the account (local path through the
#      cluster actor); a member that does not own it (every request
#      forwarded to the owner over CAF and back). Rounds alternate the three,
#      so they are compared at the same moment of a machine whose speed
#      drifts; medians over the rounds.
#   2. the time from kill -9 of the owner to the first grant on its new
#      owner, with failure_timeout 500ms, heartbeat 100ms, lease_ttl 2s:
#      being voted out plus one lease TTL of recovery (replicas = 0), or
#      being voted out alone (replicas = 1: the new owner has a copy).
# Two clusters run side by side, replicas = 0 and replicas = 1, so the cost
# of the copy (every grant waits for the backup's ack) is measured in the
# same rounds.
# All members and the generator share this machine's cores.
#
# usage: bench/cluster_bench.sh BUILD_DIR [CLIENTS=8] [SECONDS=5] [REPEATS=5]
set -euo pipefail
build=${1:?usage: bench/cluster_bench.sh BUILD_DIR [CLIENTS] [SECONDS] [REPEATS]}
clients=${2:-8}
seconds=${3:-5}
repeats=${4:-5}
usher="$build/usher"
gen="$build/bench/usher_live_bench"
[ -x "$gen" ] || { echo "build $gen first (cmake --build $build --target usher_live_bench)" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
. "$(dirname "$0")/common.sh"

key=$("$usher" key hash bench-key)
account="[account.bench]
plan = weighted
limit = 1000
key = $key"

# start NAME CONFIG_FILE [--node N]: starts a node; sets port_NAME and pid_NAME.
start() {
  local name=$1 ini=$2; shift 2
  "$usher" serve --config "$ini" "$@" > "$work/$name.out" 2> "$work/$name.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do grep -qs listening "$work/$name.out" && break; sleep 0.1; done
  printf -v "port_$name" '%s' "$(grep -o '127.0.0.1:[0-9]*' "$work/$name.out" | cut -d: -f2)"
  printf -v "pid_$name" '%s' "$pid"
}

printf '[node]\nlisten = 127.0.0.1:0\nthreads = 2\nrecovery = off\ndrain_timeout = 0s\n%s\n' \
  "$account" > "$work/alone.ini"
start alone "$work/alone.ini"

# cluster R: three members a$R b$R c$R with replicas = R; sets owner_R and
# other_R (the owner's name and that of a member that forwards to it).
cluster() {
  local r=$1 peers="" n
  for n in a b c; do peers+="${peers:+, }$n@127.0.0.1:$(free_port)"; done
  for n in a b c; do
    cat > "$work/$n$r.ini" <<INI
[node]
listen = 127.0.0.1:0
threads = 2
lease_ttl = 2s
recovery = off
drain_timeout = 0s
[cluster]
peers = $peers
replicas = $r
heartbeat = 100ms
failure_timeout = 500ms
$account
INI
    start "$n$r" "$work/$n$r.ini" --node "$n"
  done
  # Wait until the account has started on its owner.
  local port_var="port_a$r"
  for _ in $(seq 100); do
    curl -s -XPOST -H 'Authorization: Bearer bench-key' "127.0.0.1:${!port_var}/v1/admit" | grep -q '"lease":' && break
    sleep 0.1
  done
  local owner other=a
  owner=$(curl -s "127.0.0.1:${!port_var}/v1/cluster" | sed -n 's/.*"bench":"\([a-c]\)".*/\1/p')
  [ "$owner" = a ] && other=b
  printf -v "owner_$r" '%s' "$owner"
  printf -v "other_$r" '%s' "$other"
  echo "replicas = $r: owner of the account: $owner; forwarding member: $other"
}
cluster 0
cluster 1
echo "$clients clients, $seconds s, $repeats rounds"

run() {  # run LABEL PORT
  "$gen" --target usher --port "$2" --clients "$clients" --seconds "$seconds" --key bench-key \
    | sed "s/^{/{\"label\":\"$1\",/" | tee -a "$work/results.jsonl"
}
port_of() { local v="port_$1$2"; echo "${!v}"; }  # port_of MEMBER REPLICAS
for round in $(seq "$repeats"); do
  run alone "$port_alone"
  for r in 0 1; do
    o="owner_$r"; f="other_$r"
    run "cluster-r$r-owner" "$(port_of "${!o}" $r)"
    run "cluster-r$r-forwarded" "$(port_of "${!f}" $r)"
  done
done
python3 - "$work/results.jsonl" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows: by.setdefault(r["label"], []).append(r)
base = st.median(r["admit_p50_us"] for r in by["alone"])
for label in ("alone", "cluster-r0-owner", "cluster-r0-forwarded", "cluster-r1-owner", "cluster-r1-forwarded"):
    rs = by[label]
    p50 = st.median(r["admit_p50_us"] for r in rs)
    print(f"{label:18} pairs/s {st.median(r['pairs_per_s'] for r in rs):8.0f}  "
          f"admit p50 {p50:6.0f} us (+{p50 - base:.0f})  p99 {st.median(r['admit_p99_us'] for r in rs):6.0f} us")
PY

# kill -9 of the owner: how long until its new owner grants, for each.
for r in 0 1; do
  o="owner_$r"; f="other_$r"
  owner_pid_var="pid_${!o}$r"
  t0=$(date +%s%N)
  kill -9 "${!owner_pid_var}"
  while ! curl -s -m 1 -XPOST -H 'Authorization: Bearer bench-key' "127.0.0.1:$(port_of "${!f}" $r)/v1/admit" | grep -q '"lease":'; do
    sleep 0.02
  done
  t1=$(date +%s%N)
  echo "replicas = $r: kill -9 of the owner to the first grant on the new owner: $(( (t1 - t0) / 1000000 )) ms"
  grep -h "took over\|handed\|took account\|is down\|voted out" "$work"/[abc]$r.err | sort | sed "s/^/  /"
done
