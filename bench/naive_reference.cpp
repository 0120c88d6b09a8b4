// The naive reference program of issue #14, part 2: the job `usher simulate`
// does for the streams family, written the way anyone would write it first,
// with nothing tuned. usher's whole runs are measured against it
// (bench/naive_bench.sh, docs/PERFORMANCE.md "One core against a naive
// program").
//
//   usher_naive_reference TRACE.csv OUT.csv [STREAMS] [DEPTH] [MAX_WAIT_S]
//
// It reads the CSV with fgets + strtod into a vector, replays one streams
// pool per account (STREAMS running, a FIFO queue of at most DEPTH, a waiter
// leaves with 408 after MAX_WAIT_S, a full queue answers 429) with a
// std::priority_queue of (time, kind, index) events and a std::deque per
// queue, and writes `id,status,start_s` with fprintf. At one instant:
// releases (each starting its queue's head), then timeouts, then arrivals,
// in row order -- usher's same-instant order, so the counts of each status
// equal usher's summary.json (bench/naive_bench.sh checks that).

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <queue>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace {

struct row {
  std::string id;
  double at = 0, duration = 0;
  int account = 0;
};

struct account_state {
  int busy = 0;
  std::deque<std::size_t> queue;
};

enum kind { release = 0, timeout = 1, arrival = 2 };

// Splits `line` at commas in place (no quotes in these traces).
std::vector<char*> split(char* line) {
  std::vector<char*> fields;
  line[std::strcspn(line, "\r\n")] = '\0';
  fields.push_back(line);
  for (char* c = std::strchr(line, ','); c != nullptr; c = std::strchr(c + 1, ',')) {
    *c = '\0';
    fields.push_back(c + 1);
  }
  return fields;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TRACE.csv OUT.csv [STREAMS] [DEPTH] [MAX_WAIT_S]\n", argv[0]);
    return 2;
  }
  int streams = argc > 3 ? std::atoi(argv[3]) : 10;
  std::size_t depth = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 5;
  double max_wait = argc > 5 ? std::strtod(argv[5], nullptr) : 60;

  std::FILE* in = std::fopen(argv[1], "r");
  if (in == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  char line[4096];
  if (std::fgets(line, sizeof line, in) == nullptr) return 1;
  int id_col = -1, at_col = -1, account_col = -1, duration_col = -1;
  auto header = split(line);
  for (int i = 0; i < static_cast<int>(header.size()); ++i) {
    std::string name = header[i];
    if (name == "id") id_col = i;
    if (name == "arrival_s") at_col = i;
    if (name == "account") account_col = i;
    if (name == "duration_s") duration_col = i;
  }
  if (at_col < 0 || account_col < 0 || duration_col < 0) {
    std::fprintf(stderr, "%s: arrival_s, account and duration_s are required\n", argv[1]);
    return 1;
  }
  std::vector<row> rows;
  std::unordered_map<std::string, int> accounts;
  while (std::fgets(line, sizeof line, in) != nullptr) {
    auto f = split(line);
    if (f.size() < header.size()) continue;
    row r;
    r.id = id_col >= 0 ? f[id_col] : std::to_string(rows.size() + 1);
    r.at = std::strtod(f[at_col], nullptr);
    r.duration = std::strtod(f[duration_col], nullptr);
    r.account = accounts.emplace(f[account_col], static_cast<int>(accounts.size())).first->second;
    rows.push_back(r);
  }
  std::fclose(in);

  std::vector<account_state> pools(accounts.size());
  std::vector<int> status(rows.size(), 0);
  std::vector<double> start(rows.size(), -1);
  using event = std::tuple<double, int, std::size_t>;
  std::priority_queue<event, std::vector<event>, std::greater<event>> events;
  for (std::size_t i = 0; i < rows.size(); ++i) events.emplace(rows[i].at, arrival, i);
  auto run = [&](std::size_t i, double now) {
    ++pools[rows[i].account].busy;
    status[i] = 200;
    start[i] = now;
    events.emplace(now + rows[i].duration, release, i);
  };
  while (!events.empty()) {
    auto [now, what, i] = events.top();
    events.pop();
    auto& pool = pools[rows[i].account];
    if (what == release) {
      --pool.busy;
      if (!pool.queue.empty()) {
        auto next = pool.queue.front();
        pool.queue.pop_front();
        run(next, now);
      }
    } else if (what == timeout) {
      if (status[i] == 202) {  // still waiting: one max wait for all, so it is the head
        pool.queue.pop_front();
        status[i] = 408;
      }
    } else if (pool.busy < streams && pool.queue.empty()) {
      run(i, now);
    } else if (pool.queue.size() < depth) {
      pool.queue.push_back(i);
      status[i] = 202;
      events.emplace(now + max_wait, timeout, i);
    } else {
      status[i] = 429;
    }
  }

  std::FILE* out = std::fopen(argv[2], "w");
  if (out == nullptr) {
    std::perror(argv[2]);
    return 1;
  }
  std::fprintf(out, "id,status,start_s\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (status[i] == 200) std::fprintf(out, "%s,%d,%.6f\n", rows[i].id.c_str(), status[i], start[i]);
    else std::fprintf(out, "%s,%d,\n", rows[i].id.c_str(), status[i]);
  }
  return std::fclose(out) == 0 ? 0 : 1;
}
