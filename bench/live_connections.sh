#!/usr/bin/env bash
# What an idle connection costs a live node (docs/SERVE.md, "Connections and
# limits"): starts `usher serve` with timeouts long enough to keep every
# connection, opens N connections that send nothing, then N that make one
# request and stay kept-alive, and prints the node's RSS and the kernel's slab
# memory per connection, against the node before the connections.
# Needs python3 and `ulimit -n` above N + 100 (for the node and this client).
# Usage: bench/live_connections.sh [path/to/usher] [N=10000]
set -euo pipefail
cd "$(dirname "$0")/.."
usher=${1:-build/usher}
n=${2:-10000}
source bench/live_node.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
  bench_node_config "$usher"
  printf '[node]\nrequest_timeout = 10m\nidle_timeout = 10m\n'
} > "$dir/node.ini"
ulimit -n $((n + 200))
python3 - "$usher" "$dir/node.ini" "$n" <<'PY'
import os, re, socket, subprocess, sys, time
usher, config, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def kb(path, field):
    for line in open(path):
        if line.startswith(field):
            return int(line.split()[1])

request = b"GET /account/concurrency HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bench-key\r\n\r\n"
for mode in ("sent nothing", "kept-alive after one request"):
    node = subprocess.Popen([usher, "serve", "--config", config], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    port = int(re.search(rb"127.0.0.1:(\d+)", node.stdout.readline()).group(1))
    status = f"/proc/{node.pid}/status"
    warm = socket.create_connection(("127.0.0.1", port))
    warm.sendall(request)
    warm.recv(65536)
    warm.close()
    time.sleep(0.5)
    rss0, slab0 = kb(status, "VmRSS"), kb("/proc/meminfo", "Slab:")
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        if mode != "sent nothing":
            s.sendall(request)
            s.recv(65536)
        held.append(s)
    time.sleep(1.5)
    rss1, slab1 = kb(status, "VmRSS"), kb("/proc/meminfo", "Slab:")
    fds = len(os.listdir(f"/proc/{node.pid}/fd"))
    # Both ends of each loopback connection are in the slab: half is the node's.
    print(f"{n} connections, {mode}: node RSS {rss0} -> {rss1} KB = "
          f"{(rss1 - rss0) * 1024 / n:.0f} B per connection; kernel slab "
          f"{(slab1 - slab0) * 1024 / n / 2:.0f} B per socket; node fds {fds}")
    for s in held:
        s.close()
    node.terminate()
    node.wait()
PY
