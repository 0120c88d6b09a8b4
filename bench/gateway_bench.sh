#!/usr/bin/env bash
# The gateway benchmark of issue #12 (docs/PERFORMANCE.md, "Gateway"): what
# usher's OpenAI-compatible gateway adds to a call, against `usher mock-model`
# as the model server, on loopback.
#   (a) short non-streamed chat completions (`--tokens 1 --tokens-per-s 0`:
#       the answer at once), open loop at each rate of RATES (default 1,000
#       and 10,000 calls/s, CLIENTS keep-alive clients), in three modes per
#       round, in an order that rotates every round: direct (to the mock),
#       gateway (through usher), sidecar (admit at usher, the mock, release);
#       latency counted from when each call was due; the CPU per call of the
#       node, the mock and the generator (from /proc and getrusage);
#   (b) STREAMS (default 1,000) long streams held open at once through the
#       gateway (`--tokens 200 --tokens-per-s 10` on a second mock: 20 s
#       each), one per connection, on a fresh node and a fresh second mock
#       each round: their VmRSS before and while the streams are open, so
#       memory per open stream = difference / STREAMS.
# Reports medians over the rounds, and the latency the gateway and the
# sidecar add to a direct call at p50 and p99, computed per round then the
# median. At the end, the account must hold nothing (GET /account/concurrency
# used_cost 0) on every node. Bounded: every wait has a limit, every child is
# stopped on exit.
#
# usage: bench/gateway_bench.sh BUILD_DIR [SECONDS=5] [REPEATS=3]
#   env: RATES="1000 10000" (0: closed loop, the modes' capacity) CLIENTS=50
#        STREAMS=1000 (0: no part (b)) STREAM_TOKENS=200 STREAM_TPS=10
#        PIN=1: the node on the last core, the mocks and the generator on the
#        others (taskset), so that the node's queue is its own work only
set -euo pipefail
build=${1:?usage: bench/gateway_bench.sh BUILD_DIR [SECONDS] [REPEATS]}
seconds=${2:-5}
repeats=${3:-3}
rates=${RATES:-1000 10000}
clients=${CLIENTS:-50}
streams=${STREAMS:-1000}
stream_tokens=${STREAM_TOKENS:-200}
stream_tps=${STREAM_TPS:-10}
usher="$build/usher"
gen="$build/bench/usher_gateway_bench"
pin_node=() pin_rest=()
if [[ ${PIN:-0} == 1 ]]; then
  last=$(($(nproc) - 1))
  (( last >= 1 )) || { echo "PIN=1 needs two cores" >&2; exit 2; }
  pin_node=(taskset -c "$last") pin_rest=(taskset -c "0-$((last - 1))")
fi
[[ -x "$usher" && -x "$gen" ]] || { echo "needs $usher and $gen (USHER_BENCHMARKS=ON)" >&2; exit 2; }

# Each held stream takes a descriptor in the generator, and two in the node
# (the client's and the model server's connection).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < 2 * streams + 256)); then
  echo "ulimit -n is $(ulimit -n): $streams streams need $((2 * streams + 256)); lower STREAMS" >&2
  exit 2
fi

work=$(mktemp -d)
pids=()
stop() {  # stop PID: SIGTERM, then SIGKILL after 5 s
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() { for p in "${pids[@]}"; do stop "$p"; done; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_for() {
  local i
  for ((i = 0; i < $3 * 10; ++i)); do grep -qs "$2" "$1" && return 0; sleep 0.1; done
  echo "gave up after $3 s waiting for '$2' in $1:" >&2; cat "$1" >&2 || true; return 1
}
port_of() { grep -o '127.0.0.1:[0-9]*' "$1" | head -1 | cut -d: -f2; }

# start_mock NAME ARGS...: sets mock_pid, mock_port.
start_mock() {
  local name=$1; shift
  "${pin_rest[@]}" "$usher" mock-model --listen 127.0.0.1:0 "$@" > "$work/$name.out" 2> "$work/$name.err" &
  mock_pid=$!; pids+=("$mock_pid")
  wait_for "$work/$name.out" "listening on" 10
  mock_port=$(port_of "$work/$name.out")
}

key=bench-key
key_hash=$("$usher" key hash "$key")
# node_config SHORT_PORT LONG_PORT: the node's config: the short mock for
# every model, `mock-long` to the long one; one account that is never full.
node_config() {
  cat <<INI
[node]
listen = 127.0.0.1:0
recovery = off
drain_timeout = 0s
threads = 2
lease_ttl = 30s
max_connections = $((2 * streams + 1000))

[gateway]
upstream = http://127.0.0.1:$1/v1
upstream.mock-long = http://127.0.0.1:$2/v1

[account.bench]
plan = streams:team
limit = 100000
queue.max_depth = 0
key = $key_hash
INI
}

# start_node NAME SHORT_PORT LONG_PORT: sets node_pid, node_port.
start_node() {
  node_config "$2" "$3" > "$work/$1.ini"
  "${pin_node[@]}" "$usher" serve --config "$work/$1.ini" > "$work/$1.out" 2> "$work/$1.err" &
  node_pid=$!; pids+=("$node_pid")
  wait_for "$work/$1.out" "listening on" 10
  node_port=$(port_of "$work/$1.out")
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
used_cost() {
  curl -sf --max-time 5 -H "Authorization: Bearer $key" "http://127.0.0.1:$1/account/concurrency" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["used_cost"])'
}
metric() {  # metric PORT NAME: the value of an unlabelled metric
  curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'
}

start_mock short --tokens 1 --tokens-per-s 0
short_pid=$mock_pid; short_port=$mock_port
start_mock long0 --tokens "$stream_tokens" --tokens-per-s "$stream_tps"
start_node node "$short_port" "$mock_port"
main_pid=$node_pid; main_port=$node_port

# run RATE MODE: one run of (a); one JSON line with the CPU microseconds per
# call of the node, the mock and the generator over the whole run (warm-up
# included, divided by calls/s x wall time).
run() {
  local rate=$1 mode=$2 n0 n1 m0 m1 t0 t1 out rc=0
  n0=$(cpu_of "$main_pid"); m0=$(cpu_of "$short_pid"); t0=$(date +%s.%N)
  out=$(timeout $((2 * seconds + 30)) /usr/bin/time -f "%U %S" -o "$work/gen.time" \
        "${pin_rest[@]}" "$gen" --mode "$mode" --port "$main_port" --upstream-port "$short_port" --key "$key" \
        --clients "$clients" --seconds "$seconds" --rate "$rate" 2> "$work/gen.err") || rc=$?
  n1=$(cpu_of "$main_pid"); m1=$(cpu_of "$short_pid"); t1=$(date +%s.%N)
  [[ -n "$out" ]] || { echo "generator failed ($rc):" >&2; cat "$work/gen.err" >&2; exit 1; }
  python3 - "$round" "$out" "$n0" "$n1" "$m0" "$m1" "$t0" "$t1" "$ticks" "$(cat "$work/gen.time")" <<'PY'
import json, sys
rnd, out, n0, n1, m0, m1, t0, t1, ticks, gen = sys.argv[1:]
d = json.loads(out)
wall = float(t1) - float(t0)
calls = max(1.0, d["requests_per_s"] * wall)
per = lambda a, b: round((float(b) - float(a)) / float(ticks) * 1e6 / calls, 1)
d = {"round": int(rnd), **d}
d["node_cpu_us_per_call"] = per(n0, n1)
d["mock_cpu_us_per_call"] = per(m0, m1)
d["generator_cpu_us_per_call"] = round(sum(map(float, gen.split()[:2])) * 1e6 / calls, 1)
print(json.dumps(d, separators=(",", ":")))
PY
}

# hold: part (b) on a fresh node and a fresh long mock; one JSON line.
hold() {
  local nb mb no mo open inflight out rc=0 gp
  start_mock "long$round" --tokens "$stream_tokens" --tokens-per-s "$stream_tps"
  local lpid=$mock_pid lport=$mock_port
  start_node "hold$round" "$short_port" "$lport"
  local hpid=$node_pid hport=$node_port
  # Warm the node up (its threads, the pool) with a second of short calls.
  timeout 30 "$gen" --mode gateway --port "$hport" --key "$key" --clients 50 --seconds 1 \
    --warmup 0 --rate 2000 > /dev/null
  sleep 1
  nb=$(rss_kb "$hpid"); mb=$(rss_kb "$lpid")
  : > "$work/hold.err"
  timeout $((stream_tokens / stream_tps + 90)) "$gen" --mode gateway --port "$hport" --key "$key" \
    --model mock-long --stream --clients "$streams" --per-client 1 --warmup 0 --seconds 60 \
    > "$work/hold.out" 2> "$work/hold.err" &
  gp=$!; pids+=("$gp")
  wait_for "$work/hold.err" "^begun:" 60
  sleep 1
  no=$(rss_kb "$hpid"); mo=$(rss_kb "$lpid")
  open=$(metric "$hport" usher_gateway_calls_open)
  inflight=$(curl -sf --max-time 5 "http://127.0.0.1:$lport/_stats" |
             python3 -c 'import json,sys; print(json.load(sys.stdin)["in_flight"])')
  wait "$gp" || rc=$?
  out=$(cat "$work/hold.out")
  [[ -n "$out" ]] || { echo "hold generator failed ($rc):" >&2; cat "$work/hold.err" >&2; exit 1; }
  sleep 0.5
  local held_after open_after rss_after
  held_after=$(used_cost "$hport"); open_after=$(metric "$hport" usher_gateway_calls_open)
  rss_after=$(rss_kb "$hpid")
  stop "$hpid"; stop "$lpid"
  python3 - "$round" "$out" "$streams" "$nb" "$no" "$mb" "$mo" "$open" "$inflight" \
    "$held_after" "$open_after" "$rss_after" <<'PY'
import json, sys
rnd, out, n, nb, no, mb, mo, open_, infl, held, open_after, rss_after = sys.argv[1:]
d = json.loads(out)
n = int(n)
print(json.dumps({"round": int(rnd), "hold_streams": n, "completed": d["calls"],
  "errors": d["errors"], "non_200": d["non_200"],
  "ttfb_p50_us": d["ttfb_p50_us"], "ttfb_p99_us": d["ttfb_p99_us"],
  "total_p50_us": d["total_p50_us"], "total_p99_us": d["total_p99_us"],
  "node_rss_before_kb": int(nb), "node_rss_open_kb": int(no),
  "node_kb_per_stream": round((int(no) - int(nb)) / n, 1),
  "mock_rss_before_kb": int(mb), "mock_rss_open_kb": int(mo),
  "mock_kb_per_stream": round((int(mo) - int(mb)) / n, 1),
  "gateway_calls_open": float(open_ or "nan"), "mock_in_flight": int(infl),
  "node_rss_after_kb": int(rss_after), "used_cost_after": int(held),
  "gateway_calls_open_after": float(open_after or "nan")}, separators=(",", ":")))
PY
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# seconds=$seconds repeats=$repeats rates=($rates) clients=$clients streams=$streams x $stream_tokens tokens at $stream_tps/s; ulimit -n $(ulimit -n)"
modes=(direct gateway sidecar)
for round in $(seq "$repeats"); do
  for rate in $rates; do
    for k in 0 1 2; do
      run "$rate" "${modes[$(((k + round - 1) % 3))]}" > "$work/line"
      cat "$work/line"; cat "$work/line" >> "$work/runs"
    done
  done
  if ((streams > 0)); then
    hold > "$work/line"  # not in a pipeline: its children must stay in this shell's pids
    cat "$work/line"; cat "$work/line" >> "$work/holds"
  fi
done

sleep 1
echo "{\"main_node_used_cost_at_end\":$(used_cost "$main_port"),\"main_node_gateway_calls_open\":$(metric "$main_port" usher_gateway_calls_open),\"main_node_rss_kb\":$(rss_kb "$main_pid")}"

touch "$work/holds"
python3 - "$work/runs" "$work/holds" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
holds = [json.loads(l) for l in open(sys.argv[2])]
med = lambda xs: statistics.median(xs)
keys = ("requests_per_s", "ttfb_p50_us", "ttfb_p99_us", "total_p50_us", "total_p99_us",
        "call_p50_us", "call_p99_us", "node_cpu_us_per_call", "mock_cpu_us_per_call",
        "generator_cpu_us_per_call")
for rate in dict.fromkeys(r["rate"] for r in runs):
    at = [r for r in runs if r["rate"] == rate]
    by = {m: {r["round"]: r for r in at if r["mode"] == m} for m in ("direct", "gateway", "sidecar")}
    for m, rs in by.items():
        line = {"median_of": m, "rate": rate, "runs": len(rs)}
        for k in keys: line[k] = med([r[k] for r in rs.values()])
        line["reached_rate_in_runs"] = sum(r["requests_per_s"] >= 0.98 * rate and r["dropped"] == 0
                                           for r in rs.values())
        for k in ("errors", "non_200", "dropped"): line[k] = sum(r[k] for r in rs.values())
        if m != "direct":
            for k in ("ttfb_p50_us", "ttfb_p99_us", "total_p50_us", "total_p99_us"):
                added = [rs[n][k] - by["direct"][n][k] for n in rs if n in by["direct"]]
                line["added_" + k] = med(added)
                line["added_" + k + "_by_round"] = added
        print(json.dumps(line, separators=(",", ":")))
if holds:
    line = {"median_of": "hold", "rounds": len(holds)}
    for k in ("completed", "ttfb_p50_us", "ttfb_p99_us", "total_p99_us", "node_rss_before_kb",
              "node_rss_open_kb", "node_kb_per_stream", "mock_rss_before_kb", "mock_rss_open_kb",
              "mock_kb_per_stream"):
        line[k] = med([h[k] for h in holds])
    line["node_kb_per_stream_by_round"] = [h["node_kb_per_stream"] for h in holds]
    for k in ("errors", "non_200", "used_cost_after"): line[k] = sum(h[k] for h in holds)
    print(json.dumps(line, separators=(",", ":")))
PY
