// Client behaviours (actors/clients/) against real plans, through the actors.
#include <catch2/catch.hpp>
#include <map>

#include "support/replay_harness.hpp"

using namespace usher;
using namespace usher::policies;
using usher::actors::generated_account;
using usher::actors::clients::client_spec;
using usher::actors::clients::distribution;
using usher::testing::replay;
using usher::testing::replay_options;
using usher::testing::trace_builder;
using usher::testing::us;

namespace {

distribution fixed(double s) { return distribution{distribution::shape::fixed, s, 0}; }

generated_account client(id account, client_spec spec, std::uint32_t index = 0, std::uint64_t seed = 1) {
  generated_account g;
  g.account = account;
  g.client = index;
  g.spec = spec;
  g.seed = seed;
  return g;
}

std::vector<outcome> of_client(const std::vector<outcome>& all, std::uint32_t c) {
  std::vector<outcome> out;
  for (auto& o : all)
    if (o.client == c) out.push_back(o);
  return out;
}

}  // namespace

TEST_CASE("the SDK retries a 429 after backoff with jitter and stops after three attempts") {
  // Weighted units, a pool of 3: a request of cost 5 never fits, so its 429
  // carries no Retry-After (serve sends none: waiting would not help) and
  // the SDK backs off on its own.
  auto p = plan::build("weighted", {{"limit", "3", "t"}});
  trace_builder t(p);
  t.account_id("acme");
  client_spec s;
  s.behaviour = "batch";  // one document, to watch a single logical request
  s.documents = 1;
  s.parallelism = 1;
  s.cost = 5;
  s.duration = fixed(1);
  replay_options opt;
  opt.generated = {client(0, s)};
  auto run = replay(p, t.rows(), opt);
  REQUIRE(run.result.ok);
  auto mine = of_client(run.outcomes, 0);
  REQUIRE(mine.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(mine[i].code == status::rejected);
    CHECK(mine[i].request_no == 1);
    CHECK(mine[i].attempt_no == i + 1);
    CHECK(mine[i].final == (i == 2));
  }
  // Backoff: 0.5 s then 1 s, each shortened by up to 25 % of jitter.
  auto gap1 = mine[1].at - mine[0].at, gap2 = mine[2].at - mine[1].at;
  CHECK(gap1 > us(0.375) - 1);
  CHECK(gap1 <= us(0.5));
  CHECK(gap2 > us(0.75) - 1);
  CHECK(gap2 <= us(1.0));
  CHECK(run.result.clients.at(0).second.failed == 1);
}

TEST_CASE("the SDK waits the Retry-After serve derives for a 429 whose wait could help") {
  // Concurrency 1, held by a trace row for the whole run: every attempt of
  // the generated account is refused, each with the Retry-After serve sends
  // (the plan sets none: one mean hold time per pool's worth ahead, 1 s
  // while no lease has ended), not the SDK's own backoff (0.5 s, then 1 s).
  auto p = plan::build("exclusive", {});
  trace_builder t(p);
  t.add(0, "holder", 1000);
  client_spec s;
  s.behaviour = "batch";
  s.documents = 1;
  s.parallelism = 1;
  s.duration = fixed(1);
  replay_options opt;
  // The generated client shares the holder's account (id 0).
  opt.generated = {client(0, s)};
  auto mine = of_client(replay(p, t.rows(), opt).outcomes, 0);
  REQUIRE(mine.size() == 3);
  CHECK(mine[0].why == reason::over_limit);
  CHECK(mine[1].at - mine[0].at == us(1));
  CHECK(mine[2].at - mine[1].at == us(1));
}

TEST_CASE("the SDK honours Retry-After over its own backoff") {
  auto p = plan::build("exclusive", {{"retry_after", "5s", "t"}});
  trace_builder t(p);
  t.add(0, "holder", 1000);
  client_spec s;
  s.behaviour = "batch";
  s.documents = 1;
  s.parallelism = 1;
  replay_options opt;
  opt.generated = {client(0, s)};
  auto mine = of_client(replay(p, t.rows(), opt).outcomes, 0);
  REQUIRE(mine.size() == 3);
  CHECK(mine[1].at - mine[0].at == us(5));
  CHECK(mine[2].at - mine[1].at == us(5));
}

TEST_CASE("the SDK's 65 s timeout cuts a long answer, frees the slot and retries") {
  auto p = plan::build("streams:solo", {});
  client_spec s;
  s.behaviour = "batch";
  s.documents = 1;
  s.parallelism = 1;
  s.max_retries = 1;
  s.duration = fixed(100);
  replay_options opt;
  opt.generated = {client(0, s)};
  trace_builder t(p);
  t.account_id("acme");
  auto run = replay(p, t.rows(), opt);
  auto mine = of_client(run.outcomes, 0);
  REQUIRE(mine.size() == 2);
  CHECK(mine[0].code == status::client_closed);
  CHECK(mine[0].why == reason::client_timeout);
  CHECK(mine[0].end - mine[0].start == us(65));
  CHECK_FALSE(mine[0].final);
  CHECK(mine[1].attempt_no == 2);
  CHECK(mine[1].final);
  // The retry comes after the cut and a backoff (0.5 s less up to 25 %), not
  // from the cut attempt's start.
  CHECK(mine[1].at >= mine[0].end + us(0.375) - 1);
  CHECK(mine[1].at <= mine[0].end + us(0.5));
}

TEST_CASE("a waiter whose client gives up leaves the queue with 499") {
  // The server would wait 100 s; the client gives up after 30 s.
  auto p = plan::build("streams:solo", {{"queue.max_wait", "100", "t"}});
  trace_builder t(p);
  for (int i = 0; i < 3; ++i) t.add(0, "acme", 500);
  client_spec s;
  s.behaviour = "batch";
  s.documents = 1;
  s.parallelism = 1;
  s.max_retries = 0;
  s.timeout = us(30);
  s.start = us(1);
  replay_options opt;
  opt.generated = {client(0, s)};
  auto mine = of_client(replay(p, t.rows(), opt).outcomes, 0);
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].code == status::client_closed);
  CHECK(mine[0].queued);
  CHECK(mine[0].wait == us(30));
}

TEST_CASE("a conversation never has two turns in flight") {
  auto p = plan::build("exclusive", {{"concurrency", "2", "t"}});
  // One conversation: at most one request open at any time. Five: at most
  // five (each conversation holds at most one).
  int conversations = GENERATE(1, 5);
  client_spec s;
  s.behaviour = "conversations";
  s.conversations = conversations;
  s.duration = distribution{distribution::shape::exponential, 3, 1};
  s.think = distribution{distribution::shape::exponential, 4, 1};
  s.stop = us(1800);
  replay_options opt;
  opt.generated = {client(0, s)};
  opt.generate_until = us(1800);
  trace_builder t(p);
  t.account_id("bots");
  auto run = replay(p, t.rows(), opt);
  REQUIRE(run.result.ok);
  // Attempts of one logical request are its turn; turns of a conversation
  // are its requests in order. Rebuild each request's busy span: from its
  // first attempt until its final attempt's answer ends (or it gave up).
  std::map<std::uint64_t, std::pair<usec, usec>> span;  // request -> [first sent, done]
  for (auto& o : run.outcomes) {
    auto& sp = span.emplace(o.request_no, std::make_pair(o.at, o.at)).first->second;
    if (o.final) sp.second = o.start >= 0 ? o.end : o.at;
  }
  CHECK(span.size() > 50 * static_cast<std::size_t>(conversations));
  for (auto& [r, sp] : span) {
    int open = 0;
    for (auto& [r2, sp2] : span)
      if (sp2.first <= sp.first && sp.first < sp2.second) ++open;
    REQUIRE(open <= conversations);
  }
}

TEST_CASE("a batch in fixed chunks waits for each chunk while a sliding window does not") {
  // 6 documents at parallelism 2 with durations drawn per document; with a
  // generous plan nothing is refused, so times follow from durations alone.
  auto p = plan::build("per-model", {{"limit", "none", "t"}});
  auto run_mode = [&](bool window) {
    client_spec s;
    s.behaviour = "batch";
    s.documents = 6;
    s.parallelism = 2;
    s.sliding_window = window;
    s.duration = distribution{distribution::shape::exponential, 10, 1};
    replay_options opt;
    opt.generated = {client(0, s, 0, 42)};
    trace_builder t(p);
    t.account_id("job");
    return replay(p, t.rows(), opt);
  };
  auto chunks = run_mode(false);
  auto window = run_mode(true);
  REQUIRE(chunks.outcomes.size() == 6);
  REQUIRE(window.outcomes.size() == 6);
  // Same seed, same draws: documents get the same durations in both modes.
  SECTION("chunks start together when the previous chunk is done") {
    auto& o = chunks.outcomes;
    CHECK(o[0].start == 0);
    CHECK(o[1].start == 0);
    CHECK(o[2].start == std::max(o[0].end, o[1].end));
    CHECK(o[3].start == o[2].start);
    CHECK(o[4].start == std::max(o[2].end, o[3].end));
    CHECK(chunks.result.clients.at(0).second.completed_at == std::max(o[4].end, o[5].end));
  }
  SECTION("a window starts the next document as soon as one is done") {
    auto& o = window.outcomes;
    CHECK(o[2].start == std::min(o[0].end, o[1].end));
    auto done = window.result.clients.at(0).second.completed_at;
    CHECK(done <= chunks.result.clients.at(0).second.completed_at);
  }
}

TEST_CASE("a token-bucket limited client stays under its rate and is never refused") {
  auto p = plan::build("streams:solo", {{"queue.max_depth", "0", "t"}});
  client_spec s;
  s.behaviour = "limited";
  s.rate = 2;              // demand: 2 requests/s
  s.token_bucket = false;  // a cap of 3 in flight keeps it inside 3 streams
  s.max_in_flight = 3;
  s.duration = distribution{distribution::shape::exponential, 2, 1};
  s.stop = us(600);
  replay_options opt;
  opt.generated = {client(0, s)};
  opt.generate_until = us(600);
  trace_builder t(p);
  t.account_id("careful");
  auto run = replay(p, t.rows(), opt);
  REQUIRE(run.outcomes.size() > 100);
  for (auto& o : run.outcomes) REQUIRE(o.code == status::ok);
  CHECK(run.result.clients.at(0).second.client_wait > 0);  // demand exceeded the cap
}

TEST_CASE("generated workloads are deterministic and independent of actors and pacing") {
  auto p = plan::build("streams:solo", {{"queue.max_depth", "2", "t"}});
  client_spec bots;
  bots.behaviour = "conversations";
  bots.conversations = 4;
  bots.duration = distribution{distribution::shape::lognormal, 5, 0.7};
  bots.stop = us(900);
  client_spec app;
  app.behaviour = "sdk";
  app.rate = 0.4;
  app.stop = us(900);
  trace_builder t(p);
  t.add(3, "mixed", 20).add(4, "mixed", 20).add(200, "other", 5);
  replay_options opt;
  opt.generated = {client(t.account_id("mixed"), bots, 0, 9), client(t.account_id("app"), app, 1, 9),
                   client(t.account_id("other"), app, 2, 9)};
  opt.generate_until = us(900);
  auto a = replay(p, t.rows(), opt);
  auto b = replay(p, t.rows(), opt);
  auto opt2 = opt;
  opt2.clock = actors::clock_kind::real_clock;
  opt2.shards = 2;
  opt2.threads = 2;
  auto c = replay(p, t.rows(), opt2);
  auto opt3 = opt;
  opt3.clocked = true;
  auto d = replay(p, t.rows(), opt3);
  REQUIRE(a.outcomes.size() > 100);
  for (auto* other : {&b, &c, &d}) {
    REQUIRE(other->outcomes.size() == a.outcomes.size());
    for (std::size_t i = 0; i < a.outcomes.size(); ++i) {
      INFO("row " << i);
      REQUIRE(other->outcomes[i].seq == a.outcomes[i].seq);
      REQUIRE(other->outcomes[i].code == a.outcomes[i].code);
      REQUIRE(other->outcomes[i].start == a.outcomes[i].start);
      REQUIRE(other->outcomes[i].end == a.outcomes[i].end);
    }
    CHECK(other->series.size() == a.series.size());
  }
  SECTION("a different seed gives a different run") {
    auto opt4 = opt;
    for (auto& g : opt4.generated) g.seed = 10;
    auto e = replay(p, t.rows(), opt4);
    bool differs = e.outcomes.size() != a.outcomes.size();
    for (std::size_t i = 0; !differs && i < a.outcomes.size(); ++i) differs = e.outcomes[i].at != a.outcomes[i].at;
    CHECK(differs);
  }
}
