#!/usr/bin/env bash
# The live-node benchmark of issue #5 (docs/PERFORMANCE.md, "Live node"):
#   1. admit + release pairs per second and latency p50/p99 with N keep-alive
#      clients on loopback against `usher serve`, and in the same run against
#      a Redis + Lua sorted-set limiter (redis-server started here on
#      127.0.0.1), with the same load generator and client count;
#   2. the idle CPU of a node (no traffic), fresh and after the load.
# Runs alternate usher / [other usher binaries] / redis, so every round
# compares them at the same moment of a machine whose speed drifts; each run
# also reports the CPU time the server and the generator spent per pair
# (from /proc and getrusage), a measure that drifts less than pairs/s.
# Bounded: every run has a time limit; every server started here is stopped.
#
# usage: [RATE=PAIRS_PER_S] bench/live_bench.sh BUILD_DIR [CLIENTS=50] [SECONDS=10] [REPEATS=3] [OTHER_USHER...]
#   OTHER_USHER: more `usher` binaries to run in the same rounds (an older
#   build, for a before/after), labelled by their path.
#   RATE: open loop: the clients together start this many pairs per second
#   on a fixed schedule (latency below saturation); unset: closed loop.
#   PIN=1: every server on CPU 1 and the load generator on CPU 0 (taskset),
#   so each server has one core of its own and the generator's cost, which
#   differs by protocol (HTTP answers cost it more to read than RESP),
#   does not take CPU from the server; unset: all share both cores.
set -euo pipefail
server_cpu=(); generator_cpu=()
if [[ "${PIN:-}" == 1 ]]; then
  server_cpu=(taskset -c 1); generator_cpu=(taskset -c 0)
fi
build=${1:?usage: bench/live_bench.sh BUILD_DIR [CLIENTS] [SECONDS] [REPEATS] [OTHER_USHER...]}
clients=${2:-50}
seconds=${3:-10}
repeats=${4:-3}
shift $(($# < 4 ? $# : 4))
usher="$build/usher"
gen="$build/bench/usher_live_bench"
command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install redis-server)" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

. "$(dirname "$0")/common.sh"

source "$(dirname "$0")/live_node.sh"

# start_usher BINARY LABEL: starts a node with the config that binary reads;
# appends to labels/ports/spids.
labels=(); ports=(); spids=()
start_usher() {
  local out="$work/usher.$((${#labels[@]})).out"
  bench_node_config "$1" > "$out.ini"
  "${server_cpu[@]}" "$1" serve --config "$out.ini" > "$out" 2> "$out.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 50); do grep -qs listening "$out" && break; sleep 0.1; done
  labels+=("$2"); spids+=("$pid")
  ports+=("$(grep -o '127.0.0.1:[0-9]*' "$out" | cut -d: -f2)")
}
start_usher "$usher" usher
for other in "$@"; do start_usher "$other" "$other"; done
usher_pid=${spids[0]}

redis_port=$(free_port)
"${server_cpu[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
  --daemonize no --protected-mode yes > "$work/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done 2>/dev/null || sleep 1

# Idle CPU of the node: CPU seconds it uses over 10 s without traffic.
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
idle_cpu() { local a b; a=$(cpu_of "$usher_pid"); sleep 10; b=$(cpu_of "$usher_pid"); awk -v a="$a" -v b="$b" -v t="$ticks" 'BEGIN{printf "%.2f", (b-a)/t/10*100}'; }
sleep 1
idle_fresh=$(idle_cpu)

# run LABEL SERVER_PID GENERATOR_ARGS...: one run, one JSON line with the
# label and the CPU microseconds per pair of the server and the generator
# (over the whole run, warm-up included, divided by pairs/s x wall time).
run() {
  local label=$1 pid=$2; shift 2
  local c0 c1 t0 t1 out
  c0=$(cpu_of "$pid"); t0=$(date +%s.%N)
  out=$(timeout $((seconds + 30)) /usr/bin/time -f "%U %S" -o "$work/gen.time" \
        "${generator_cpu[@]}" "$gen" "$@" --clients "$clients" --seconds "$seconds" ${RATE:+--rate "$RATE"})
  c1=$(cpu_of "$pid"); t1=$(date +%s.%N)
  python3 - "$label" "$out" "$c0" "$c1" "$t0" "$t1" "$ticks" "$(cat "$work/gen.time")" <<'PY'
import json, sys
label, out, c0, c1, t0, t1, ticks, gen = sys.argv[1:]
d = json.loads(out)
wall = float(t1) - float(t0)
pairs = max(1.0, d["pairs_per_s"] * wall)
d = {"label": label, **d}
d["server_cpu_us_per_pair"] = round((float(c1) - float(c0)) / float(ticks) * 1e6 / pairs, 1)
d["generator_cpu_us_per_pair"] = round(sum(map(float, gen.split())) * 1e6 / pairs, 1)
print(json.dumps(d, separators=(",", ":")))
PY
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# clients=$clients rate=${RATE:-closed loop} pinned=${PIN:-0} seconds=$seconds repeats=$repeats (each round: ${labels[*]} redis, rotated)"
# The targets take turns in an order that rotates every round, so no target
# always runs first or right after another (the machine's speed changes in
# steps, which could otherwise favour a position in the round).
targets=$((${#labels[@]} + 1))
for r in $(seq "$repeats"); do
  for k in $(seq 0 $((targets - 1))); do
    i=$(((k + r - 1) % targets))
    if ((i == ${#labels[@]})); then
      run redis "$redis_pid" --target redis --port "$redis_port" --key bench --limit 1000 | tee -a "$work/runs"
    else
      run "${labels[$i]}" "${spids[$i]}" --target usher --port "${ports[$i]}" --key bench-key | tee -a "$work/runs"
    fi
  done
done

sleep 2
echo "{\"idle_cpu_percent_fresh\":$idle_fresh,\"idle_cpu_percent_after_load\":$(idle_cpu)}"

# Medians per target, and the median over rounds of each usher's pairs/s
# divided by Redis's in the same round.
python3 - "$work/runs" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
labels = list(dict.fromkeys(r["label"] for r in runs))
med = lambda xs: statistics.median(xs)
redis = [r for r in runs if r["label"] == "redis"]
for l in labels:
    rs = [r for r in runs if r["label"] == l]
    line = {"median_of": l, "runs": len(rs)}
    for k in ("pairs_per_s", "admit_p50_us", "admit_p99_us", "pair_p50_us", "pair_p99_us",
              "server_cpu_us_per_pair", "generator_cpu_us_per_pair"):
        line[k] = med([r[k] for r in rs])
    if l != "redis" and len(rs) == len(redis):
        ratios = [a["pairs_per_s"] / b["pairs_per_s"] for a, b in zip(rs, redis)]
        line["pairs_per_s_vs_redis"] = round(med(ratios), 2)
        line["vs_redis_by_round"] = [round(x, 2) for x in ratios]
    print(json.dumps(line, separators=(",", ":")))
PY
