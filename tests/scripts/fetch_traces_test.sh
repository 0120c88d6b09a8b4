#!/usr/bin/env bash
# scripts/fetch-traces against a local mirror: an HTTP server on loopback
# serves the upstream bytes of the shared traces (read in place, decompressed
# into a temporary directory), so the test needs no internet. It checks a
# full fetch, a corrupted download (named, exit 1, nothing under the final
# name), a missing file (named), a damaged local copy (fetched again) and a
# rerun that keeps what is right. Exit 77 (skipped) without the shared traces
# or python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fetch="$root/scripts/fetch-traces"
shared="$root/../shared/traces"
[[ -d $shared ]] || { echo "skipped: $shared not found"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }

work=$(mktemp -d)
server=""
cleanup() {
  [[ -z $server ]] || kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# The mirror: each manifest entry's upstream path holds the upstream bytes.
mapfile -t entries < <("$fetch" --list --base-url BASE)
[[ ${#entries[@]} -ge 7 ]] || fail "manifest has ${#entries[@]} entries"
for e in "${entries[@]}"; do
  IFS=$'\t' read -r file _ _ url <<<"$e"
  path=${url#BASE/}
  mkdir -p "$work/srv/$(dirname "$path")"
  if [[ $file == *.gz ]]; then gzip -dc "$shared/$file" >"$work/srv/$path"
  else cp "$shared/$file" "$work/srv/$path"; fi
done
served() { IFS=$'\t' read -r _ _ _ url <<<"${entries[$1]}"; echo "$work/srv/${url#BASE/}"; }
local_name() { IFS=$'\t' read -r file _ <<<"${entries[$1]}"; echo "$file"; }

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/srv" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
  port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/server.log" | head -1)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n ${port:-} ]] || fail "the HTTP server did not start: $(cat "$work/server.log")"
export USHER_TRACES_BASE_URL="http://127.0.0.1:$port"
data="$work/data"

# 1. A corrupted upstream file and a missing one: both named, exit 1, the
#    rest fetched, nothing partial left behind.
bad=$(local_name 0) gone=$(local_name 2)
cp "$(served 0)" "$work/good-copy"
printf 'X' | dd of="$(served 0)" bs=1 seek=100 conv=notrunc status=none
mv "$(served 2)" "$work/gone-copy"
set +e
"$fetch" "$data" >"$work/out1" 2>"$work/err1"
code=$?
set -e
[[ $code -eq 1 ]] || fail "run 1 exited $code, expected 1"
grep -q "failed on 2 of ${#entries[@]} files" "$work/err1" || fail "run 1 summary: $(cat "$work/err1")"
grep -q "^  $bad: checksum mismatch: expected [0-9a-f]\{64\}, got [0-9a-f]\{64\}" "$work/err1" ||
  fail "run 1 does not name $bad: $(cat "$work/err1")"
grep -q "^  $gone: download failed: http://127.0.0.1:$port/" "$work/err1" ||
  fail "run 1 does not name $gone: $(cat "$work/err1")"
[[ ! -e $data/$bad && ! -e $data/$gone ]] || fail "a failed file has its final name"
[[ -z $(find "$data" -name '.*part*') ]] || fail "partial files left: $(find "$data" -name '.*part*')"
[[ $(grep -c '^fetched ' "$work/out1") -eq $((${#entries[@]} - 2)) ]] || fail "run 1: $(cat "$work/out1")"

# Every fetched file holds the upstream bytes (a .gz one once decompressed).
for i in "${!entries[@]}"; do
  file=$(local_name "$i")
  [[ $file == "$bad" || $file == "$gone" ]] && continue
  if [[ $file == *.gz ]]; then
    gzip -t "$data/$file" || fail "$file is not gzip"
    cmp -s <(gzip -dc "$data/$file") <(gzip -dc "$shared/$file") || fail "$file differs"
  else
    cmp -s "$data/$file" "$shared/$file" || fail "$file differs"
  fi
done

# 2. Mirror repaired, one local .gz damaged: the rerun fetches the two
#    missing files and the damaged one, and keeps the rest.
cp "$work/good-copy" "$(served 0)"
mv "$work/gone-copy" "$(served 2)"
damaged=$(local_name 3)
head -c 1000 "$data/$damaged" >"$work/cut" && mv "$work/cut" "$data/$damaged"
"$fetch" "$data" >"$work/out2" 2>"$work/err2" || fail "run 2 failed: $(cat "$work/err2")"
grep -q "^refetch  $damaged: its checksum is wrong" "$work/out2" || fail "run 2: $(cat "$work/out2")"
for f in "$bad" "$gone" "$damaged"; do
  grep -q "^fetched  $f " "$work/out2" || fail "run 2 did not fetch $f: $(cat "$work/out2")"
done
[[ $(grep -c '(already there)$' "$work/out2") -eq $((${#entries[@]} - 3)) ]] ||
  fail "run 2 fetched again what was right: $(cat "$work/out2")"
cmp -s "$data/$bad" "$shared/$bad" || fail "$bad differs after the refetch"

# 3. Nothing to do: every file is kept, exit 0.
"$fetch" "$data" >"$work/out3"
[[ $(grep -c '(already there)$' "$work/out3") -eq ${#entries[@]} ]] || fail "run 3: $(cat "$work/out3")"
grep -q "checksums verified" "$work/out3" || fail "run 3: $(cat "$work/out3")"

# 4. A bad option is refused.
set +e
"$fetch" --frobnicate >/dev/null 2>&1
code=$?
set -e
[[ $code -eq 2 ]] || fail "a bad option exited $code, expected 2"
echo "fetch-traces: all checks passed"
