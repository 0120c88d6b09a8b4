# Sourced by the live-node benchmarks (live_bench.sh, live_callgrind.sh).
#
# bench_node_config USHER: the node config every live benchmark serves: one
# account whose limit the clients never reach, the default split
# (io_threads = 1, the best on 2 cores; 2 CAF workers), key "bench-key". No
# key newer than the first node is used, so older builds read the same config,
# except `recovery = off` for builds that know it: a benchmark's node has no
# holder from an earlier run, and with the default (recovery = ttl) it would
# grant nothing for its first lease TTL (docs/SERVE.md, "Restarts and recovery"),
# and `drain_timeout = 0s` for builds that know it: a benchmark stops its node
# with a signal while clients may still hold leases, and a drain would wait.
bench_node_config() {
  local key probe line extra=""
  key=$("$1" key hash bench-key)
  probe=$(mktemp)
  for line in "recovery = off" "drain_timeout = 0s"; do
    printf '[node]\n%s\n[account.bench]\nplan = weighted\nkey = %s\n' "$line" "$key" > "$probe"
    if "$1" serve --config "$probe" --check > /dev/null 2>&1; then extra+="$line"$'\n'; fi
  done
  rm -f "$probe"
  cat <<INI
[node]
listen = 127.0.0.1:0
threads = 2
lease_ttl = 30s
$extra
[account.bench]
plan = weighted
limit = 1000
key = $key
INI
}
