#!/usr/bin/env bash
# The real OpenAI Node SDK (tests/sdk: npm `openai`, pinned in its
# package-lock.json) against usher's gateway: starts `usher mock-model` and
# `usher serve` with a [gateway] in front of it on loopback, then runs
# tests/sdk/openai_sdk_test.mjs with the system's node (checks a-h: plain,
# streamed, embeddings, 429 and 408 through the SDK's retries, an abort
# mid-stream, a 1,000-call property run, no customer key upstream or in the
# access log, and i: realtime sessions through both of the SDK's realtime
# clients). Exit 77 (skipped) when node or npm is missing.
#
# The npm package is installed once per lockfile into a cache outside the
# source tree, ${OPENAI_SDK_CACHE:-~/.cache/usher-openai-sdk}/<hash of
# package.json + package-lock.json>, so later runs need no network.
#
# usage: tests/scripts/openai_sdk_test.sh USHER_BINARY [NAME=VALUE...]
# (NAME=VALUE pairs go to the .mjs: SDK_CALLS=200, SDK_SEED=7, SDK_CHECKS=abc)
set -euo pipefail
usher=${1:?usage: $0 USHER_BINARY [NAME=VALUE...]}
shift
[[ -x $usher ]] || { echo "FAIL: $usher is not an executable" >&2; exit 1; }
command -v node >/dev/null || { echo "skipped: no node"; exit 77; }
command -v npm >/dev/null || { echo "skipped: no npm"; exit 77; }
# The SDK pinned in tests/sdk (6.x) supports Node.js 20 and later; Debian 12's
# own nodejs is 18.
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  { echo "skipped: the openai SDK of tests/sdk needs node >= 20, this is $(node --version)"; exit 77; }
root=$(cd "$(dirname "$0")/../.." && pwd)
sdk_src="$root/tests/sdk"

fail() { echo "FAIL: $*" >&2; exit 1; }

# -- the npm package, in the cache unless it is there already ---------------
cache_root=${OPENAI_SDK_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/usher-openai-sdk}
hash=$(cat "$sdk_src/package.json" "$sdk_src/package-lock.json" | sha256sum | cut -c1-16)
cache="$cache_root/$hash"
if [[ ! -f $cache/.installed ]]; then
  mkdir -p "$cache_root"
  rm -rf "$cache"  # a copy whose install never finished
  staging=$(mktemp -d "$cache_root/.install.XXXXXX")
  cp "$sdk_src/package.json" "$sdk_src/package-lock.json" "$staging/"
  echo "installing the openai npm package into $cache" >&2
  if ! (cd "$staging" && timeout 300 npm ci --no-audit --no-fund --loglevel=error \
          --update-notifier=false >"$staging/npm.log" 2>&1); then
    cat "$staging/npm.log" >&2
    rm -rf "$staging"
    fail "npm ci failed"
  fi
  touch "$staging/.installed"
  # Another run may have filled the cache meanwhile: keep the first.
  mv -T "$staging" "$cache" 2>/dev/null || rm -rf "$staging"
fi
[[ -f $cache/node_modules/openai/package.json ]] || fail "$cache has no node_modules/openai"

# -- the processes ----------------------------------------------------------
work=$(mktemp -d)
mock_pid="" serve_pid=""
stopped=0
stop() {  # stop PID: SIGTERM, SIGKILL after 5 s; its exit status in $stopped
  local pid=$1
  stopped=0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || stopped=$?
}
cleanup() {
  [[ -z $serve_pid ]] || stop "$serve_pid"
  [[ -z $mock_pid ]] || stop "$mock_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port FILE PREFIX PID: the port of the first "PREFIX127.0.0.1:PORT"
# line of FILE, within 15 s.
wait_port() {
  local port=""
  for _ in $(seq 150); do
    port=$(sed -n "s/^${2}127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p" "$1" | head -1)
    [[ -n $port ]] && { echo "$port"; return 0; }
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

"$usher" mock-model --listen 127.0.0.1:0 --tokens 8 --tokens-per-s 200 \
  >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
mock_port=$(wait_port "$work/mock.out" "listening on " "$mock_pid") ||
  fail "usher mock-model did not start: $(cat "$work/mock.out" "$work/mock.err")"

# A random key per account (and for the upstream), so that a key found where
# it must not be is this run's.
new_key() { echo "sk-$1-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"; }
declare -A keys
for a in basic full slow cancel prop rt; do keys[$a]=$(new_key "$a"); done
upstream_key=$(new_key upstream)
key_line() { echo "key = $("$usher" key hash "${keys[$1]}")"; }

cat >"$work/node.ini" <<EOF
[node]
listen = 127.0.0.1:0
recovery = off
drain_timeout = 0s
access_log = $work/access.log

[gateway]
upstream = http://127.0.0.1:$mock_port/v1
upstream_key = $upstream_key

# a, b, c: the plain calls
[account.basic]
plan = streams:team
limit = 4
queue.max_depth = 16
queue.max_wait = 30
$(key_line basic)

# d: one stream, no queue (429)
[account.full]
plan = streams:solo
limit = 1
queue.max_depth = 0
$(key_line full)

# e: one stream, a queue of one that waits 0.3 s (408)
[account.slow]
plan = streams:solo
limit = 1
queue.max_depth = 1
queue.max_wait = 0.3
$(key_line slow)

# f: the abort
[account.cancel]
plan = streams:solo
limit = 1
queue.max_depth = 0
$(key_line cancel)

# i: realtime sessions (the exclusive family: 1 at a time over 5 connections)
[account.rt]
plan = exclusive
$(key_line rt)

# g: the property run
[account.prop]
plan = streams:team
limit = 8
queue.max_depth = 1000
queue.max_wait = 60
$(key_line prop)
EOF

"$usher" serve --config "$work/node.ini" >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
serve_port=$(wait_port "$work/serve.out" "usher serve: listening on " "$serve_pid") ||
  fail "usher serve did not start: $(cat "$work/serve.out" "$work/serve.err")"

# -- the SDK ----------------------------------------------------------------
# ESM resolves `import ... from 'openai'` next to the importing file, never
# through NODE_PATH: the script runs from a copy beside a node_modules link.
mkdir "$work/sdk"
# Node 20 and 21 have the global WebSocket (the SDK's browser-style realtime
# client) behind a flag; 22 has it by default.
node_flags=()
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' ||
  ! node --experimental-websocket -e '' 2>/dev/null || node_flags=(--experimental-websocket)
cp "$sdk_src/openai_sdk_test.mjs" "$sdk_src/package.json" "$work/sdk/"
ln -s "$cache/node_modules" "$work/sdk/node_modules"
set +e
(cd "$work/sdk" &&
  USHER_URL="http://127.0.0.1:$serve_port" MOCK_URL="http://127.0.0.1:$mock_port" \
  KEY_BASIC=${keys[basic]} KEY_FULL=${keys[full]} KEY_SLOW=${keys[slow]} \
  KEY_CANCEL=${keys[cancel]} KEY_PROP=${keys[prop]} KEY_RT=${keys[rt]} \
  UPSTREAM_KEY=$upstream_key \
  ACCESS_LOG="$work/access.log" NODE_PATH="$cache/node_modules" \
  timeout -k 5 300 node "${node_flags[@]}" openai_sdk_test.mjs "$@")
status=$?
set -e
[[ $status -eq 124 || $status -eq 137 ]] && echo "not ok - the SDK script did not finish within 300 s"

# The node stops cleanly, and its whole access log (flushed at exit) holds
# no key either.
stop "$serve_pid"
serve_pid=""
if [[ $stopped -ne 0 ]]; then
  echo "not ok - usher serve exited $stopped"
  status=1
fi
for k in "${keys[@]}" "$upstream_key"; do
  if grep -qF -- "$k" "$work/access.log"; then
    echo "not ok - a key is in the access log after the node stopped"
    status=1
  fi
done
if [[ $status -ne 0 ]]; then
  echo "--- usher serve's stderr (last 20 lines)"
  tail -20 "$work/serve.err"
  echo "--- usher mock-model's stderr (last 20 lines)"
  tail -20 "$work/mock.err"
fi
exit "$status"
