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
#      being voted out plus one lease TTL of recovery (replicas = 0).
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
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

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

peers=""
for n in a b c; do peers+="${peers:+, }$n@127.0.0.1:$(free_port)"; done
for n in a b c; do
  cat > "$work/$n.ini" <<INI
[node]
listen = 127.0.0.1:0
threads = 2
lease_ttl = 2s
recovery = off
drain_timeout = 0s
[cluster]
peers = $peers
replicas = 0
heartbeat = 100ms
failure_timeout = 500ms
$account
INI
  start "$n" "$work/$n.ini" --node "$n"
done
# Wait until the account has started on its owner.
for _ in $(seq 100); do
  curl -s -XPOST -H 'Authorization: Bearer bench-key' "127.0.0.1:$port_a/v1/admit" | grep -q '"lease":' && break
  sleep 0.1
done
owner=$(curl -s "127.0.0.1:$port_a/v1/cluster" | sed -n 's/.*"bench":"\([a-c]\)".*/\1/p')
other=a; [ "$owner" = a ] && other=b
owner_port_var="port_$owner"; other_port_var="port_$other"
echo "owner of the account: $owner; forwarding member: $other; $clients clients, $seconds s, $repeats rounds"

run() {  # run LABEL PORT
  "$gen" --target usher --port "$2" --clients "$clients" --seconds "$seconds" --key bench-key \
    | sed "s/^{/{\"label\":\"$1\",/" | tee -a "$work/results.jsonl"
}
for r in $(seq "$repeats"); do
  run alone "$port_alone"
  run cluster-owner "${!owner_port_var}"
  run cluster-forwarded "${!other_port_var}"
done
python3 - "$work/results.jsonl" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows: by.setdefault(r["label"], []).append(r)
base = st.median(r["admit_p50_us"] for r in by["alone"])
for label in ("alone", "cluster-owner", "cluster-forwarded"):
    rs = by[label]
    p50 = st.median(r["admit_p50_us"] for r in rs)
    print(f"{label:18} pairs/s {st.median(r['pairs_per_s'] for r in rs):8.0f}  "
          f"admit p50 {p50:6.0f} us (+{p50 - base:.0f})  p99 {st.median(r['admit_p99_us'] for r in rs):6.0f} us")
PY

# kill -9 of the owner: how long until its new owner grants.
owner_pid_var="pid_$owner"
t0=$(date +%s%N)
kill -9 "${!owner_pid_var}"
while ! curl -s -m 1 -XPOST -H 'Authorization: Bearer bench-key' "127.0.0.1:${!other_port_var}/v1/admit" | grep -q '"lease":'; do
  sleep 0.02
done
t1=$(date +%s%N)
echo "kill -9 of the owner to the first grant on the new owner: $(( (t1 - t0) / 1000000 )) ms (failure_timeout 500 ms + lease_ttl 2 s of recovery)"
grep -h "took over\|handed\|took account\|is down\|voted out" "$work"/[abc].err | sort | sed "s/^/  /"
