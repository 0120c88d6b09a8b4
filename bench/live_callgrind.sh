#!/usr/bin/env bash
# The live node's user-space instructions per request, counted by callgrind:
# a measure of the hot path (read, route, admission actor, answer, write)
# that does not move with the machine's speed, unlike pairs per second. The
# kernel's share (TCP, syscalls: most of a request's cost) is not counted.
# Each binary serves 4 keep-alive clients looping admit + release for 4 s
# under valgrind; the figure is the instructions run inside the I/O loop
# (boost::asio's scheduler::run) divided by the requests routed.
#
# usage: bench/live_callgrind.sh BUILD_DIR [OTHER_USHER...]
#   OTHER_USHER: more `usher` binaries to count the same way (an older
#   build, for a before/after).
#   NODE_EXTRA: lines added under [node], to count what a setting costs,
#   e.g. NODE_EXTRA="access_log = /tmp/access.log" (docs/PERFORMANCE.md).
set -euo pipefail
build=${1:?usage: bench/live_callgrind.sh BUILD_DIR [OTHER_USHER...]}
shift
gen="$build/bench/usher_live_bench"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
work=$(mktemp -d)
node_pid=
cleanup() { [[ -n "$node_pid" ]] && kill "$node_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

source "$(dirname "$0")/live_node.sh"

for usher in "$build/usher" "$@"; do
  out="$work/cg.out"
  bench_node_config "$usher" > "$work/node.ini"  # what this build reads
  if [[ -n "${NODE_EXTRA:-}" ]]; then
    printf '%s\n' "$NODE_EXTRA" > "$work/extra.ini"
    sed -i "/^\[node\]\$/r $work/extra.ini" "$work/node.ini"
  fi
  valgrind --tool=callgrind --callgrind-out-file="$out" "$usher" serve --config "$work/node.ini" \
    > "$work/node.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 100); do grep -qs listening "$work/node.log" && break; sleep 0.2; done
  port=$(grep -o '127.0.0.1:[0-9]*' "$work/node.log" | cut -d: -f2)
  "$gen" --target usher --port "$port" --clients 4 --seconds 4 --warmup 1 > /dev/null
  # Requests answered, as the node counts them (warm-up included, as in the
  # loop's instructions): counting calls of one function breaks whenever the
  # compiler inlines it differently.
  python3 - "$port" > "$work/answered" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
print(sum(int(float(l.split()[-1])) for l in text.splitlines()
          if l.startswith("usher_http_responses_total{")))
PY
  kill -INT "$node_pid"; wait "$node_pid" 2>/dev/null || true
  node_pid=
  python3 - "$usher" "$out" "$(cat "$work/answered")" <<'PY'
import re, subprocess, sys
usher, out, answered = sys.argv[1:]
text = open(out).read()
# Function names are given once, then referred to by number.
names = dict(re.findall(r"^c?fn=\((\d+)\) (.*)$", text, re.M))
route = {k for k, v in names.items() if "http_session::route()" in v}
requests, callee = 0, None
for line in text.splitlines():
    m = re.match(r"^cfn=\((\d+)\)", line)
    if m:
        callee = m.group(1)
    elif line.startswith("calls=") and callee in route:
        requests += int(line.split("=")[1].split()[0])
annotate = subprocess.run(["callgrind_annotate", "--inclusive=yes", out],
                          capture_output=True, text=True).stdout
loop = next(int(l.split()[0].replace(",", "")) for l in annotate.splitlines()
            if "scheduler::run(" in l)
# Every thread's, start and stop included: what the I/O loop hands to others too.
total = next(int(l.split()[0].replace(",", "")) for l in annotate.splitlines()
             if "PROGRAM TOTALS" in l)
if int(answered or 0) > 0:
    requests = int(answered) - 1  # not the /metrics request itself
print(f'{{"usher":"{usher}","requests":{requests},"io_loop_instructions":{loop},'
      f'"instructions_per_request":{loop // max(requests, 1)},'
      f'"process_instructions_per_request":{total // max(requests, 1)}}}')
PY
done
