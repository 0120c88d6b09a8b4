/// usher_micro_bench: Google Benchmark timings of the small pieces a replay
/// spends its time in (issue #2; the whole-run numbers come from
/// usher_replay_bench, docs/PERFORMANCE.md):
///
///   engine_arrive_release   policies::engine: one request admitted at once
///                           and released (the common path of a replay)
///   engine_queue_path       one arrival that queues, one release, the queue
///                           admission it allows, and the deadline look-up
///                           replay_shard makes each event
///   engine_ranked_backlog/N one arrival, one timeout and the deadline
///                           look-up with N waiters of two priority levels
///                           queued in one account (the cost of levels)
///   parse_seconds           policies::parse_seconds on trace-like fields
///   csv_out_row             one outcomes.csv row through traces::csv_out
///                           (to /dev/null), fields as outcome_writer writes them
///   export_accounts/N       policies::ledger: the images of N accounts holding
///                           3 leases each, in one pass (a reload, a handoff)
///   export_one_by_one/N     the same, one export_account per account (a pass
///                           over every lease for each: what a reload did)
///
/// Run: build-bench/bench/usher_micro_bench [--benchmark_repetitions=5
///      --benchmark_report_aggregates_only=true]

#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <deque>
#include <string>
#include <vector>

#include "policies/engine.hpp"
#include "policies/ledger.hpp"
#include "policies/plan.hpp"
#include "policies/time.hpp"
#include "traces/csv_out.hpp"

namespace {

using namespace usher::policies;

std::shared_ptr<const plan> streams_plan() {
  return plan::build("streams", {{"streams", "10", "bench"}, {"queue.max_depth", "5", "bench"}});
}

// A request of account 0 with its cost resolved, as the trace reader hands it over.
request first_request(const plan& p) {
  request r;
  r.cost = p.cost_of(0, no_id, -1);
  return r;
}

void engine_arrive_release(benchmark::State& state) {
  auto p = streams_plan();
  engine e(p);
  request r = first_request(*p);
  usec now = 0;
  for (auto _ : state) {
    ++r.seq;
    auto d = e.arrive(r, 0, now, r.seq);
    e.release(d.held, now);
    ++now;
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(engine_arrive_release);

void engine_queue_path(benchmark::State& state) {
  auto p = streams_plan();
  engine e(p);
  request r = first_request(*p);
  usec now = 0;
  std::deque<engine::lease> held;
  for (int i = 0; i < 10; ++i) {  // every stream busy
    ++r.seq;
    held.push_back(e.arrive(r, 0, now, r.seq).held);
  }
  std::vector<engine::admission> admitted;
  for (auto _ : state) {
    ++r.seq;
    auto d = e.arrive(r, 0, now, r.seq);  // queues
    if (d.what != engine::verdict::queued) state.SkipWithError("expected the arrival to queue");
    e.release(held.front(), now);
    held.pop_front();
    admitted.clear();
    e.admit_waiting(now, admitted);  // the waiter starts
    for (auto& a : admitted) held.push_back(a.held);
    benchmark::DoNotOptimize(e.next_deadline());
    benchmark::DoNotOptimize(d);
    ++now;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(engine_queue_path);

// One account's stream busy and a backlog of N waiters alternating between
// levels 0 and 1 (one arrival a millisecond, max_wait N ms: the backlog
// stays N deep). Each step: an arrival, the oldest waiter's timeout, the
// deadline look-up. Should not grow with N.
void engine_ranked_backlog(benchmark::State& state) {
  const auto depth = state.range(0);
  auto p = plan::build("streams", {{"streams", "1", "bench"},
                                   {"queue.max_depth", "none", "bench"},
                                   {"queue.max_wait", std::to_string(depth / 1000.0), "bench"},
                                   {"priority.max", "1", "bench"}});
  engine e(p);
  request r = first_request(*p);
  usec now = 0;
  auto arrive = [&] {
    ++r.seq;
    r.priority = static_cast<std::int16_t>(r.seq % 2);
    return e.arrive(r, 0, now, r.seq);
  };
  arrive();  // takes the stream for good
  for (std::int64_t i = 0; i < depth; ++i, now += 1000) arrive();
  std::vector<engine::timeout> timed_out;
  for (auto _ : state) {
    auto d = arrive();
    if (d.what != engine::verdict::queued) state.SkipWithError("expected the arrival to queue");
    timed_out.clear();
    e.expire(now, timed_out);
    benchmark::DoNotOptimize(e.next_deadline());
    now += 1000;
  }
  if (e.usage_of(0).queued < depth) state.SkipWithError("the backlog drained");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(engine_ranked_backlog)->Arg(10)->Arg(1000)->Arg(10000);

void parse_seconds_fields(benchmark::State& state) {
  const std::vector<std::string> fields = {"1234.567890", "12.345678", "0.25", "60",
                                           "1111111.000001", "9.5"};
  std::size_t i = 0;
  for (auto _ : state) {
    usec t = 0;
    bool ok = parse_seconds(fields[i], t);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(t);
    i = i + 1 == fields.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(parse_seconds_fields);

void csv_out_row(benchmark::State& state) {
  // Millions of rows: only into the null device, never into a file that
  // happens to be called /dev/null.
  struct stat st {};
  if (stat("/dev/null", &st) != 0 || !S_ISCHR(st.st_mode)) {
    state.SkipWithError("/dev/null is not a character device");
    return;
  }
  usher::traces::csv_out out("/dev/null");
  std::int64_t n = 0;
  usec at = 123'456'789;
  for (auto _ : state) {
    // id, account, key, model, arrival_s, start_s, end_s, wait_s, status, queued, reason
    out.field(++n).field("a0042").field("").empty();
    out.seconds(at).seconds(at + 1'500'000).seconds(at + 11'234'567).seconds(1'500'000);
    out.field(std::int64_t{200}).field(std::int64_t{1}).field("none");
    out.end_row();
    at += 1'111'111;
  }
  out.close();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(csv_out_row);

// A ledger of N streams:solo accounts holding 3 leases each.
ledger three_leases_each(std::size_t accounts) {
  ledger l(plan::build("streams:solo", {}));
  std::uint64_t seq = 0;
  for (std::size_t a = 0; a < accounts; ++a)
    for (int k = 0; k < 3; ++k) {
      request r;
      r.seq = ++seq;
      r.account = static_cast<id>(a);
      r.cost = 1;
      ledger::terms t;
      t.tag = seq;
      t.hold = seconds(30);
      (void)l.arrive(r, 0, 0, t);
    }
  return l;
}

void export_accounts(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  auto l = three_leases_each(n);
  std::vector<std::uint16_t> profiles(n, 0);
  for (auto _ : state) {
    std::vector<std::vector<ledger::handle>> leases, waiters;
    auto images = l.export_accounts(profiles, leases, waiters);
    benchmark::DoNotOptimize(images);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(export_accounts)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void export_one_by_one(benchmark::State& state) {
  auto n = static_cast<std::size_t>(state.range(0));
  auto l = three_leases_each(n);
  for (auto _ : state)
    for (std::size_t a = 0; a < n; ++a) {
      auto image = l.export_account(static_cast<id>(a), 0);
      benchmark::DoNotOptimize(image);
    }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(export_one_by_one)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace


BENCHMARK_MAIN();
