#!/usr/bin/env bash
# Sweeps on `usher worker` processes (issue #14 part 5, docs/PERFORMANCE.md
# "Sweeps across machines"): the 24-variant sweep of the what-if benchmark
# over a 200,000-row trace, timed locally at --jobs 1 and 2 and on 1, 2 and
# 3 workers on this machine (each --jobs 1, started fresh before each timed
# run, so each reads and parses the trace as a new machine would), runs
# interleaved; then what a sweep pays to get its trace to a worker (sent,
# read at its path, or kept from an earlier sweep), and each worker's peak
# memory. Prints every run and the medians; checks sweep.csv is the same.
#
# usage: bench/workers_bench.sh BUILD_DIR [REPEATS] [TRACE]
#   TRACE  default /tmp/usher-bench-200k.csv (generated when missing; never
#          inside the repository)
set -euo pipefail
. "$(dirname "$0")/common.sh"
build=${1:?usage: bench/workers_bench.sh BUILD_DIR [REPEATS] [TRACE]}
repeats=${2:-3}
trace=${3:-/tmp/usher-bench-200k.csv}
usher="$build/usher"
out=$(mktemp -d /tmp/usher-workers-bench.XXXXXX)
pids=()
stop_workers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_workers; rm -rf "$out"' EXIT

if [ ! -s "$trace" ]; then
  "$usher" trace gen --out "$trace" --pattern diurnal --span 86400 --rate 4.96 --accounts 100 \
    --mean-duration 10 --seed 4
fi
echo "trace: $trace ($(($(wc -l <"$trace") - 1)) rows, $(($(stat -c %s "$trace") / 1048576)) MiB)"
sweep=(sweep --trace "$trace" --plan streams:team --vary limit=1..12 --vary queue.max_wait=30,60 -q)

# Starts N workers (extra options after N); their addresses in $workers.
start_workers() {
  local n=$1
  shift
  workers=""
  for i in $(seq 1 "$n"); do
    "$usher" worker --listen 127.0.0.1:0 -q "$@" >"$out/w$i.port" 2>"$out/w$i.err" &
    pids+=($!)
    for _ in $(seq 1 500); do [ -s "$out/w$i.port" ] && break; sleep 0.01; done
    workers+="${workers:+,}127.0.0.1:$(sed 's/.*://' "$out/w$i.port")"
  done
}

TIMEFORMAT='%R'
timed() { { time "$@" >/dev/null; } 2>&1; }

declare -A times
for r in $(seq 1 "$repeats"); do
  for mode in j1 j2 w1 w2 w3; do
    case $mode in
      j*) t=$(timed "$usher" "${sweep[@]}" --jobs "${mode#j}" --out "$out/$mode") ;;
      w*) start_workers "${mode#w}" --jobs 1
          t=$(timed "$usher" "${sweep[@]}" --workers "$workers" --out "$out/$mode")
          stop_workers ;;
    esac
    times[$mode]+="$t "
    printf 'run %d, %s: %.2f s\n' "$r" "$mode" "$t"
    cmp -s "$out/j1/sweep.csv" "$out/$mode/sweep.csv" || { echo "sweep.csv of $mode differs" >&2; exit 1; }
  done
done
m1=$(echo "${times[j1]}" | median)
for mode in j1 j2 w1 w2 w3; do
  m=$(echo "${times[$mode]}" | median)
  awk -v mode="$mode" -v m="$m" -v b="$m1" 'BEGIN {printf "median %s: %.2f s, %.2fx over --jobs 1\n", mode, m, b / m}'
done

# Getting the trace to a worker: a one-variant sweep on a fresh worker that
# has it sent, on a fresh one that reads it at its path, and again on the
# latter (kept in memory).
one=(sweep --trace "$trace" --plan streams:team --vary limit=4 -q)
declare -A setup
for r in $(seq 1 "$repeats"); do
  setup[local]+="$(timed "$usher" "${one[@]}" --jobs 1 --out "$out/one") "
  start_workers 1 --jobs 1 --no-shared-paths
  setup[sent]+="$(timed "$usher" "${one[@]}" --workers "$workers" --out "$out/one") "
  stop_workers
  start_workers 1 --jobs 1
  setup[path]+="$(timed "$usher" "${one[@]}" --workers "$workers" --out "$out/one") "
  setup[kept]+="$(timed "$usher" "${one[@]}" --workers "$workers" --out "$out/one") "
  peak=$(awk '/VmHWM/ {print $2}' "/proc/${pids[0]}/status")
  stop_workers
done
for k in local sent path kept; do
  printf 'one variant, %s: median %.2f s\n' "$k" "$(echo "${setup[$k]}" | median)"
done
echo "a worker's peak memory after it: $((peak / 1024)) MiB"
