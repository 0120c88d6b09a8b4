#!/usr/bin/env bash
# The live-node benchmark of issue #5 (docs/PERFORMANCE.md, "Live node"):
#   1. admit + release pairs per second and latency p50/p99 with N keep-alive
#      clients on loopback against `usher serve`, and in the same run against
#      a Redis + Lua sorted-set limiter (redis-server started here on
#      127.0.0.1), with the same load generator and client count;
#   2. the idle CPU of a node (no traffic, one SSE stream open or not).
# Bounded: every run has a time limit; every server started here is stopped.
# usage: bench/live_bench.sh BUILD_DIR [CLIENTS=50] [SECONDS=10] [REPEATS=3]
set -euo pipefail
build=${1:?usage: bench/live_bench.sh BUILD_DIR [CLIENTS] [SECONDS] [REPEATS]}
clients=${2:-50}
seconds=${3:-10}
repeats=${4:-3}
usher="$build/usher"
gen="$build/bench/usher_live_bench"
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# usher: one account whose limit the clients never reach, 2 scheduler threads.
cat > "$work/node.ini" <<INI
[node]
listen = 127.0.0.1:0
threads = 2
lease_ttl = 30s
[account.bench]
plan = weighted
limit = 1000
key = $("$usher" key hash bench-key)
INI
"$usher" serve --config "$work/node.ini" > "$work/usher.out" 2> "$work/usher.err" &
pids+=($!)
usher_pid=$!
for _ in $(seq 50); do grep -q listening "$work/usher.out" && break; sleep 0.1; done
usher_port=$(grep -o '127.0.0.1:[0-9]*' "$work/usher.out" | cut -d: -f2)

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
  --daemonize no --protected-mode yes > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done 2>/dev/null || sleep 1

# Idle CPU of the node: CPU seconds it uses over 10 s without traffic.
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$usher_pid/stat"; }
idle_cpu() { local a b; a=$(cpu); sleep 10; b=$(cpu); awk -v a="$a" -v b="$b" -v t="$ticks" 'BEGIN{printf "%.2f", (b-a)/t/10*100}'; }
sleep 1
idle_fresh=$(idle_cpu)

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# clients=$clients seconds=$seconds repeats=$repeats (runs alternate usher / redis)"
for r in $(seq "$repeats"); do
  timeout $((seconds + 30)) "$gen" --target usher --port "$usher_port" --clients "$clients" --seconds "$seconds" --key bench-key
  timeout $((seconds + 30)) "$gen" --target redis --port "$redis_port" --clients "$clients" --seconds "$seconds" --key bench --limit 1000
done

sleep 2
echo "{\"idle_cpu_percent_fresh\":$idle_fresh,\"idle_cpu_percent_after_load\":$(idle_cpu)}"
