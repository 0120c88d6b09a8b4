#!/usr/bin/env bash
# What a member's failure costs, by cluster settings (docs/CLUSTER.md,
# "What each failure costs, simulated"): usher cluster-sim on three members,
# 30 accounts (streams:team, limit 5), 30 requests/s for 300 s, holds of
# mean 5 s; for each setting of heartbeat / failure_timeout / lease_ttl /
# replicas and each fault, the 503s, the account-seconds unavailable, the longest outage
# of one account, the leases their holders lost, and the unit-seconds over a
# limit (always 0). Then the same settings and faults seen by customers' SDKs:
# the 30 accounts as generated SDK clients (usher simulate's `sdk` behaviour:
# the OpenAI SDK's two retries, honouring Retry-After, and its 65 s timeout)
# at one request every 2 s each, and what they saw: requests that failed after their
# retries, the retries the fault caused, and the 503s. Last, the faults that
# leave a member running without a majority, with and without a load
# balancer that checks /readyz (cluster-sim --health-check).
# Deterministic: the same tables every run.
#
# usage: bench/cluster_sim_whatif.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: bench/cluster_sim_whatif.sh BUILD_DIR}
usher="$build/usher"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$usher" trace gen --out "$work/trace.csv" --span 300 --rate 30 --accounts 30 --zipf 0 \
  --mean-duration 5 --seed 3 -q
config() {  # config HEARTBEAT FAILURE_TIMEOUT LEASE_TTL REPLICAS
  printf '[node]\nlease_ttl = %s\n[cluster]\n' "$3"
  printf 'peers = a@127.0.0.1:7401, b@127.0.0.1:7402, c@127.0.0.1:7403\n'
  printf 'replicas = %s\nheartbeat = %s\nfailure_timeout = %s\n' "$4" "$1" "$2"
  for i in $(seq -w 1 30); do
    printf '[account.acct-%s]\nkey = %s\nplan = streams:team\nlimit = 5\n' \
      "$i" "$(printf 'k%s' "$i" | sha256sum | cut -d' ' -f1)"
  done
}
outcome_row() {  # outcome_row SUMMARY SETTING FAULT [COLUMN...]: the columns after the fault's
  python3 - "$@" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))["overall"]
fault = sys.argv[3].replace("|", "\\|")
more = "".join(f" {c} |" for c in sys.argv[4:])
print(f"| {sys.argv[2]} | `{fault}` |{more} {o['refused_503']} | {o['unavailable_s']:.0f} | "
      f"{o['longest_unavailable_s']:.1f} | {o['leases_lost']} | {o['unit_seconds_over_limit']:g} |")
PY
}
echo "| heartbeat / failure_timeout / lease_ttl / replicas | fault | 503s | unavailable (account-s) | longest outage (s) | leases lost | unit-s over limit |"
echo "|---|---|---|---|---|---|---|"
for setting in "500ms 2s 6s 0" "500ms 2s 30s 0" "200ms 1s 10s 0" "1s 5s 30s 0" "500ms 2s 30s 1" "200ms 1s 10s 1"; do
  read -r hb ft ttl rep <<< "$setting"
  config "$hb" "$ft" "$ttl" "$rep" > "$work/cluster.ini"
  for fault in "crash b at 100s" "pause b 100s..130s" "partition b | a c 100s..130s" "pause b 100s..100.8s"; do
    printf 'delay 0.1ms..2ms\n%s\n' "$fault" > "$work/faults.txt"
    [[ $fault == crash* ]] && echo "restart b at 160s" >> "$work/faults.txt"
    "$usher" cluster-sim --config "$work/cluster.ini" --trace "$work/trace.csv" \
      --faults "$work/faults.txt" --out "$work/out" -q
    outcome_row "$work/out/summary.json" "$hb / $ft / $ttl / $rep" "$fault"
  done
done
echo
echo "| heartbeat / failure_timeout / lease_ttl / replicas | fault | SDK requests | failed after retries | retries | 503s | unit-s over limit |"
echo "|---|---|---|---|---|---|---|"
for setting in "500ms 2s 6s 0" "500ms 2s 30s 0" "200ms 1s 10s 0" "500ms 2s 30s 1" "200ms 1s 10s 1"; do
  read -r hb ft ttl rep <<< "$setting"
  config "$hb" "$ft" "$ttl" "$rep" > "$work/cluster.ini"
  for fault in "none" "crash b at 100s" "pause b 100s..130s" "partition b | a c 100s..130s"; do
    printf 'delay 0.1ms..2ms\n' > "$work/faults.txt"
    [[ $fault != none ]] && echo "$fault" >> "$work/faults.txt"
    [[ $fault == crash* ]] && echo "restart b at 160s" >> "$work/faults.txt"
    "$usher" cluster-sim --config "$work/cluster.ini" --client "acct:accounts=30,behaviour=sdk,rate=0.5,duration=exp:5s" \
      --stop 300s --seed 3 --faults "$work/faults.txt" --out "$work/out" -q
    python3 - "$work/out/summary.json" "$hb / $ft / $ttl / $rep" "$fault" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
o, clients = s["overall"], s["clients"].values()
fault = sys.argv[3].replace("|", "\\|")
total = lambda k: sum(c[k] for c in clients)
print(f"| {sys.argv[2]} | `{fault}` | {total('requests')} | {total('failed')} | {total('retries')} | "
      f"{o['refused_503']} | {o['unit_seconds_over_limit']:g} |")
PY
  done
done
echo
echo "| heartbeat / failure_timeout / lease_ttl / replicas | fault | health checks | 503s | unavailable (account-s) | longest outage (s) | leases lost | unit-s over limit |"
echo "|---|---|---|---|---|---|---|---|"
for setting in "500ms 2s 6s 0" "500ms 2s 30s 1"; do
  read -r hb ft ttl rep <<< "$setting"
  config "$hb" "$ft" "$ttl" "$rep" > "$work/cluster.ini"
  for fault in "pause b 100s..130s" "partition b | a c 100s..130s"; do
    printf 'delay 0.1ms..2ms\n%s\n' "$fault" > "$work/faults.txt"
    for every in none 2s 500ms; do
      checks=()
      [[ $every != none ]] && checks=(--health-check "$every")
      "$usher" cluster-sim --config "$work/cluster.ini" --trace "$work/trace.csv" \
        --faults "$work/faults.txt" "${checks[@]}" --out "$work/out" -q
      outcome_row "$work/out/summary.json" "$hb / $ft / $ttl / $rep" "$fault" "$every"
    done
  done
done
