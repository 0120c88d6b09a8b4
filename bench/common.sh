# What the benchmark scripts share; sourced by them, not run.

# The median of the numbers on standard input (one or more a line).
median() {
  tr ' ' '\n' | grep -v '^$' | sort -g |
    awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# usher_replay_bench's 1M-row traces (streams-1m: 1 account, mix-1m: 1,000)
# in WORK_DIR, written there first when missing. usage: replay_traces BUILD_DIR WORK_DIR
replay_traces() {
  if [ ! -s "$2/streams-1m.csv" ] || [ ! -s "$2/mix-1m.csv" ]; then
    "$1/bench/usher_replay_bench" --usher "$1/usher" --work "$2" --reps 1 --reps-10m 0 >/dev/null 2>&1
  fi
}

# A TCP port free on 127.0.0.1 now (for a server started next).
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
