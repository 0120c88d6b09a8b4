# Sourced by the live-node benchmarks (live_bench.sh, live_callgrind.sh).
#
# bench_node_config USHER: the node config every live benchmark serves: one
# account whose limit the clients never reach, the default split
# (io_threads = 1, the best on 2 cores; 2 CAF workers), key "bench-key". No
# key newer than the first node is used, so older builds read the same config.
bench_node_config() {
  cat <<INI
[node]
listen = 127.0.0.1:0
threads = 2
lease_ttl = 30s
[account.bench]
plan = weighted
limit = 1000
key = $("$1" key hash bench-key)
INI
}
