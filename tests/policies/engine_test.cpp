// The admission engine, one seed rule at a time, with time moved by hand.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "policies/engine.hpp"

using namespace usher::policies;

namespace {

// A small driver: builds requests and keeps the same-instant order.
struct bench {
  explicit bench(const std::string& preset, std::vector<plan::setting> s = {})
      : p(plan::build(preset, s)), e(p) {}

  engine::decision arrive(id account, usec now, kind what = kind::request, id model = no_id,
                          std::int64_t cost = -1, std::uint64_t conn = 0, id product = no_id,
                          std::int16_t priority = -1) {
    request r;
    r.seq = seq++;
    r.priority = priority;
    r.account = account;
    r.what = what;
    r.model = model;
    r.product = product;
    r.conn = conn;
    auto profile = profile_of(account);
    r.cost = p->cost_of(profile, model, cost);
    return e.arrive(r, profile, now, r.seq);
  }

  /// Accounts named "a0", "a1", ... in `account.aN.KEY` settings get their
  /// own profile; the rest the default.
  std::uint16_t profile_of(id account) const { return p->profile_of("a" + std::to_string(account)); }

  std::shared_ptr<const plan> p;
  engine e;
  std::uint64_t seq = 0;
};

}  // namespace

TEST_CASE("streams: a stream that frees at t serves the queue head at t") {
  bench b("streams:solo");
  engine::decision held[3];
  for (auto& h : held) {
    h = b.arrive(0, 0);
    REQUIRE(h.what == engine::verdict::admitted);
  }
  auto waiting = b.arrive(0, seconds(1));
  REQUIRE(waiting.what == engine::verdict::queued);
  CHECK(b.e.usage_of(0).queued == 1);
  b.e.release(held[0].held, seconds(10));
  std::vector<engine::admission> in;
  b.e.admit_waiting(seconds(10), in);
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.seq == 3);
  CHECK(in[0].arrival == seconds(1));
  CHECK(b.e.usage_of(0).in_flight == 3);
  CHECK(b.e.usage_of(0).queued == 0);
}

TEST_CASE("streams: a release at the deadline instant admits before the timeout fires") {
  bench b("streams:solo");
  std::vector<engine::decision> held;
  for (int i = 0; i < 3; ++i) held.push_back(b.arrive(0, 0));
  REQUIRE(b.arrive(0, 0).what == engine::verdict::queued);  // deadline at 60 s
  CHECK(b.e.next_deadline() == seconds(60));
  b.e.release(held[0].held, seconds(60));
  std::vector<engine::admission> in;
  b.e.admit_waiting(seconds(60), in);
  std::vector<engine::timeout> out;
  b.e.expire(seconds(60), out);
  CHECK(in.size() == 1);
  CHECK(out.empty());
}

TEST_CASE("streams: a waiter times out at exactly arrival + max_wait") {
  bench b("streams:solo", {{"queue.max_wait", "30", "t"}});
  for (int i = 0; i < 3; ++i) (void)b.arrive(0, 0);
  REQUIRE(b.arrive(0, seconds(5)).what == engine::verdict::queued);
  std::vector<engine::timeout> out;
  b.e.expire(seconds(35) - 1, out);
  CHECK(out.empty());
  b.e.expire(seconds(35), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].arrival == seconds(5));
  CHECK(b.e.next_deadline() == never);
}

TEST_CASE("streams: a newcomer never overtakes a waiter (strict FIFO)") {
  bench b("weighted", {{"limit", "4", "t"}, {"queue.max_depth", "5", "t"}});
  auto big = b.arrive(0, 0, kind::request, no_id, 3);
  REQUIRE(big.what == engine::verdict::admitted);
  // Head needs 2 units (only 1 free): it waits, and a 1-unit newcomer that
  // would fit waits behind it.
  CHECK(b.arrive(0, 1, kind::request, no_id, 2).what == engine::verdict::queued);
  CHECK(b.arrive(0, 2, kind::request, no_id, 1).what == engine::verdict::queued);
  CHECK(b.e.usage_of(0).used == 3);
}

TEST_CASE("levels in one account: a higher level stands ahead of lower ones, FIFO within a level") {
  bench b("streams", {{"limit", "1", "t"}, {"queue.max_depth", "5", "t"}, {"priority.max", "3", "t"}});
  auto held = b.arrive(0, 0);
  REQUIRE(held.what == engine::verdict::admitted);
  // Rows 1..4 wait: levels none (0), 2, 0, 2.
  for (std::int16_t level : {-1, 2, 0, 2})
    REQUIRE(b.arrive(0, 1, kind::request, no_id, -1, 0, no_id, level).what == engine::verdict::queued);
  std::vector<std::uint64_t> order;
  auto release = held.held;
  for (int i = 0; i < 4; ++i) {
    b.e.release(release, 2 + i);
    std::vector<engine::admission> in;
    b.e.admit_waiting(2 + i, in);
    REQUIRE(in.size() == 1);
    order.push_back(in[0].req.seq);
    release = in[0].held;
  }
  CHECK(order == std::vector<std::uint64_t>{2, 4, 1, 3});
}

TEST_CASE("levels in one account: a higher level that fits is admitted past blocked lower ones") {
  bench b("weighted", {{"limit", "4", "t"}, {"queue.max_depth", "5", "t"}, {"priority.max", "1", "t"}});
  REQUIRE(b.arrive(0, 0, kind::request, no_id, 3).what == engine::verdict::admitted);
  CHECK(b.arrive(0, 1, kind::request, no_id, 2).what == engine::verdict::queued);
  // Level 0 (as the waiter): FIFO, it waits. Level 1: it goes first, and fits.
  CHECK(b.arrive(0, 2, kind::request, no_id, 1, 0, no_id, 0).what == engine::verdict::queued);
  CHECK(b.arrive(0, 3, kind::request, no_id, 1, 0, no_id, 1).what == engine::verdict::admitted);
  CHECK(b.e.usage_of(0).used == 4);
}

TEST_CASE("levels in one account: a waiter times out at its max_wait wherever it stands") {
  bench b("streams", {{"limit", "1", "t"}, {"queue.max_depth", "5", "t"}, {"queue.max_wait", "5", "t"},
                      {"priority.max", "1", "t"}});
  REQUIRE(b.arrive(0, 0).what == engine::verdict::admitted);
  auto urgent = [&](usec at) { return b.arrive(0, at, kind::request, no_id, -1, 0, no_id, 1).what; };
  REQUIRE(b.arrive(0, seconds(1)).what == engine::verdict::queued);  // row 1, level 0
  REQUIRE(urgent(seconds(2)) == engine::verdict::queued);            // row 2, ahead of it
  REQUIRE(b.arrive(0, seconds(3)).what == engine::verdict::queued);  // row 3, level 0
  CHECK(b.e.next_deadline() == seconds(6));
  // Row 1 (behind row 2, the first to time out) leaves: row 2 is next.
  REQUIRE(b.e.cancel(0, 1));
  CHECK(b.e.next_deadline() == seconds(7));
  std::vector<engine::timeout> out;
  b.e.expire(seconds(7), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].req.seq == 2);
  // Row 4 stands ahead of row 3, which still times out first, from behind it.
  REQUIRE(urgent(seconds(7)) == engine::verdict::queued);
  std::vector<std::uint64_t> order;
  b.e.each_waiting(0, [&](const queue_gate::entry& e) { order.push_back(e.req.seq); });
  CHECK(order == std::vector<std::uint64_t>{4, 3});
  CHECK(b.e.next_deadline() == seconds(8));
  out.clear();
  b.e.expire(seconds(8), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].req.seq == 3);
  CHECK(b.e.next_deadline() == seconds(12));
}

TEST_CASE("streams: queue.max_depth 0 turns a full pool into 429 over_limit") {
  bench b("streams:solo", {{"queue.max_depth", "0", "t"}});
  for (int i = 0; i < 3; ++i) (void)b.arrive(0, 0);
  auto d = b.arrive(0, 0);
  CHECK(d.what == engine::verdict::done);
  CHECK(d.code == status::rejected);
  CHECK(d.why == reason::over_limit);
}

TEST_CASE("streams: API keys of one account share its pool, accounts do not") {
  bench b("streams:solo", {{"queue.max_depth", "0", "t"}});
  for (int i = 0; i < 3; ++i) REQUIRE(b.arrive(0, 0).what == engine::verdict::admitted);
  CHECK(b.arrive(0, 0).code == status::rejected);
  CHECK(b.arrive(1, 0).what == engine::verdict::admitted);
}

TEST_CASE("exclusive: a second HTTP request while one runs gets 429 at once") {
  bench b("exclusive");
  CHECK(b.arrive(0, 0).what == engine::verdict::admitted);
  auto second = b.arrive(0, 1);
  CHECK(second.code == status::rejected);
  CHECK(second.why == reason::over_limit);
  CHECK(b.e.usage_of(0).queued == 0);
}

TEST_CASE("exclusive: HTTP and WebSocket requests share the concurrency and the socket stays open") {
  bench b("exclusive");
  REQUIRE(b.arrive(0, 0, kind::ws_open, no_id, -1, 7).what == engine::verdict::admitted);
  auto http = b.arrive(0, 1);
  REQUIRE(http.what == engine::verdict::admitted);
  auto over_ws = b.arrive(0, 2, kind::ws_request, no_id, -1, 7);
  CHECK(over_ws.code == status::rejected);
  CHECK(b.e.usage_of(0).connections == 1);
  b.e.release(http.held, 3);
  CHECK(b.arrive(0, 4, kind::ws_request, no_id, -1, 7).what == engine::verdict::admitted);
}

TEST_CASE("exclusive: the sixth WebSocket connection is refused (5 x concurrency)") {
  bench b("exclusive");
  for (std::uint64_t c = 1; c <= 5; ++c)
    REQUIRE(b.arrive(0, 0, kind::ws_open, no_id, -1, c).what == engine::verdict::admitted);
  auto sixth = b.arrive(0, 0, kind::ws_open, no_id, -1, 6);
  CHECK(sixth.code == status::rejected);
  CHECK(sixth.why == reason::connection_cap);
  SECTION("closing one makes room") {
    CHECK(b.arrive(0, 1, kind::ws_close, no_id, -1, 3).code == status::ok);
    CHECK(b.arrive(0, 2, kind::ws_open, no_id, -1, 6).what == engine::verdict::admitted);
  }
  SECTION("concurrency 2 allows 10") {
    bench b2("exclusive", {{"concurrency", "2", "t"}});
    for (std::uint64_t c = 1; c <= 10; ++c)
      REQUIRE(b2.arrive(0, 0, kind::ws_open, no_id, -1, c).what == engine::verdict::admitted);
    CHECK(b2.arrive(0, 0, kind::ws_open, no_id, -1, 11).why == reason::connection_cap);
  }
}

TEST_CASE("exclusive: a request over a connection that is not open gets 400") {
  bench b("exclusive");
  auto d = b.arrive(0, 0, kind::ws_request, no_id, -1, 9);
  CHECK(d.code == status::bad_request);
  CHECK(d.why == reason::no_connection);
}

TEST_CASE("exclusive: products have separate concurrency, models of one product share it") {
  bench b("exclusive");
  CHECK(b.arrive(0, 0, kind::request, 0, -1, 0, /*product*/ 0).what == engine::verdict::admitted);
  CHECK(b.arrive(0, 0, kind::request, 1, -1, 0, 0).code == status::rejected);
  CHECK(b.arrive(0, 0, kind::request, 1, -1, 0, 1).what == engine::verdict::admitted);
}

TEST_CASE("weighted: rejected when used + cost would exceed the limit") {
  bench b("weighted", {{"limit", "8", "t"}});
  REQUIRE(b.arrive(0, 0, kind::request, no_id, 4).what == engine::verdict::admitted);
  REQUIRE(b.arrive(0, 0, kind::request, no_id, 4).what == engine::verdict::admitted);
  auto d = b.arrive(0, 0, kind::request, no_id, 1);
  CHECK(d.code == status::rejected);
  CHECK(b.e.usage_of(0).used == 8);
  SECTION("exactly at the limit is allowed") {
    bench b2("weighted", {{"limit", "8", "t"}});
    CHECK(b2.arrive(0, 0, kind::request, no_id, 8).what == engine::verdict::admitted);
  }
}

TEST_CASE("weighted: a null limit means no cap") {
  bench b("weighted", {{"limit", "none", "t"}});
  for (int i = 0; i < 1000; ++i) REQUIRE(b.arrive(0, 0, kind::request, no_id, 4).what == engine::verdict::admitted);
  CHECK(b.e.usage_of(0).used == 4000);
  CHECK(b.e.usage_of(0).limit == -1);
}

TEST_CASE("weighted: costs come from the model table when the request has none") {
  bench b("weighted", {{"limit", "8", "t"}, {"cost.big", "4", "t"}, {"cost.small", "1", "t"}});
  id big = 0, small = 1;  // the plan names models in name order
  REQUIRE(b.p->named_models() == std::vector<std::string>{"big", "small"});
  REQUIRE(b.arrive(0, 0, kind::request, big).what == engine::verdict::admitted);
  REQUIRE(b.arrive(0, 0, kind::request, big).what == engine::verdict::admitted);
  CHECK(b.arrive(0, 0, kind::request, small).code == status::rejected);
  CHECK(b.p->cost_of(0, 57, -1) == 1);  // an unnamed model: the default cost
}

TEST_CASE("per-model: each (account, model) has its own pool") {
  bench b("per-model", {{"limit", "2", "t"}});
  for (id m = 0; m < 2; ++m)
    for (int i = 0; i < 2; ++i) REQUIRE(b.arrive(0, 0, kind::request, m).what == engine::verdict::admitted);
  CHECK(b.arrive(0, 0, kind::request, 0).code == status::rejected);
  CHECK(b.arrive(0, 0, kind::request, 1).code == status::rejected);
  CHECK(b.arrive(1, 0, kind::request, 0).what == engine::verdict::admitted);
  CHECK(b.e.usage_of(0).in_flight == 4);
}

TEST_CASE("per-model: a busy model answers 429 model_busy under the account's own limit") {
  bench b("per-model", {{"model_capacity.m", "3", "t"}});
  for (id a = 0; a < 3; ++a) REQUIRE(b.arrive(a, 0, kind::request, 0).what == engine::verdict::admitted);
  auto d = b.arrive(3, 0, kind::request, 0);
  CHECK(d.code == status::rejected);
  CHECK(d.why == reason::model_busy);
  SECTION("the refusal leaves no trace in the account's pool (all or nothing)") {
    CHECK(b.e.usage_of(3).in_flight == 0);
    CHECK(b.e.usage_of(3).used == 0);
  }
}

TEST_CASE("a queued head blocked on a shared model is served when another account releases it") {
  bench b("per-model", {{"model_capacity.m", "1", "t"}, {"queue.max_depth", "5", "t"}});
  auto first = b.arrive(0, 0, kind::request, 0);
  REQUIRE(first.what == engine::verdict::admitted);
  REQUIRE(b.arrive(1, 1, kind::request, 0).what == engine::verdict::queued);
  b.e.release(first.held, 5);
  std::vector<engine::admission> in;
  b.e.admit_waiting(5, in);
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.account == 1);
}

// -- Sharing a model's capacity: capacity_order and priority ------------------

namespace {

// Model 0 ("m") has a provider-wide capacity of 2; every account may queue.
// Account 0 takes both units at t=0 and queues two more; account 1 queues one
// at t=1. Then one of account 0's requests ends at t=5.
std::vector<engine::admission> one_unit_frees(std::vector<plan::setting> extra) {
  std::vector<plan::setting> s = {{"model_capacity.m", "2", "t"}, {"queue.max_depth", "5", "t"}};
  s.insert(s.end(), extra.begin(), extra.end());
  bench b("per-model", s);
  auto first = b.arrive(0, 0, kind::request, 0);
  REQUIRE(first.what == engine::verdict::admitted);
  REQUIRE(b.arrive(0, 0, kind::request, 0).what == engine::verdict::admitted);
  REQUIRE(b.arrive(0, 0, kind::request, 0).what == engine::verdict::queued);
  REQUIRE(b.arrive(0, 0, kind::request, 0).what == engine::verdict::queued);
  REQUIRE(b.arrive(1, 1, kind::request, 0).what == engine::verdict::queued);
  b.e.release(first.held, 5);
  std::vector<engine::admission> in;
  b.e.admit_waiting(5, in);
  return in;
}

}  // namespace

TEST_CASE("capacity_order oldest: a freed unit of a model goes to the request that waited longest") {
  auto in = one_unit_frees({});
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.account == 0);
  CHECK(in[0].req.seq == 2);
}

TEST_CASE("capacity_order fair: a freed unit goes to the account holding the fewest units of the model") {
  auto in = one_unit_frees({{"capacity_order", "fair", "t"}});
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.account == 1);
  CHECK(in[0].arrival == 1);
}

TEST_CASE("priority: a waiting account of a higher priority gets a freed unit first") {
  SECTION("the higher priority wins over age") {
    auto in = one_unit_frees({{"account.a1.priority", "1", "t"}});
    REQUIRE(in.size() == 1);
    CHECK(in[0].req.account == 1);
  }
  SECTION("and over the fair share") {
    auto in = one_unit_frees({{"capacity_order", "fair", "t"}, {"account.a0.priority", "2", "t"}});
    REQUIRE(in.size() == 1);
    CHECK(in[0].req.account == 0);
  }
}

namespace {

// Model 0 has a capacity of 2: account 0 takes both at t=0, account 1
// queues at t=1 asking for `first`, account 0 queues at t=2 asking for
// `second` (-1: asks for none). Returns the account a freed unit goes to.
id freed_unit_goes_to(std::vector<plan::setting> s, std::int16_t first, std::int16_t second) {
  s.push_back({"model_capacity.m", "2", "t"});
  s.push_back({"queue.max_depth", "5", "t"});
  bench b("per-model", s);
  auto held = b.arrive(0, 0, kind::request, 0);
  REQUIRE(b.arrive(0, 0, kind::request, 0).what == engine::verdict::admitted);
  REQUIRE(b.arrive(1, 1, kind::request, 0, -1, 0, no_id, first).what == engine::verdict::queued);
  REQUIRE(b.arrive(0, 2, kind::request, 0, -1, 0, no_id, second).what == engine::verdict::queued);
  b.e.release(held.held, 5);
  std::vector<engine::admission> in;
  b.e.admit_waiting(5, in);
  REQUIRE(in.size() == 1);
  return in[0].req.account;
}

}  // namespace

TEST_CASE("priority per request: a request's own level, cut to its account's priority.max") {
  // Without any level, the older head (account 1's) goes first.
  CHECK(freed_unit_goes_to({}, -1, -1) == 1);
  SECTION("a request may ask for a higher level up to priority.max") {
    CHECK(freed_unit_goes_to({{"priority.max", "2", "t"}}, -1, 1) == 0);
    CHECK(freed_unit_goes_to({{"priority.max", "2", "t"}}, 2, 1) == 1);
  }
  SECTION("a level above priority.max counts as priority.max") {
    // priority.max defaults to the account's priority (0): asking 5 is asking 0.
    CHECK(freed_unit_goes_to({}, -1, 5) == 1);
    CHECK(freed_unit_goes_to({{"account.a0.priority.max", "1", "t"}}, 0, 5) == 0);
    // Two heads cut to one level: the older goes first.
    CHECK(freed_unit_goes_to({{"priority.max", "1", "t"}}, 3, 7) == 1);
  }
  SECTION("a request asking for none gets its account's priority; it may ask for less") {
    CHECK(freed_unit_goes_to({{"account.a0.priority", "1", "t"}}, -1, -1) == 0);
    CHECK(freed_unit_goes_to({{"account.a0.priority", "1", "t"}}, -1, 0) == 1);
  }
}

TEST_CASE("capacity_reserve: units of a model kept for higher levels, by arrival and by freed unit") {
  // Model 0 of 4 units, 1 of them (25 %, or 1 unit) kept for level 1 and up.
  for (std::string amount : {"1", "25%"}) {
    INFO("capacity_reserve.1 = " << amount);
    bench b("per-model", {{"model_capacity.m", "4", "t"}, {"queue.max_depth", "5", "t"},
                          {"priority.max", "1", "t"}, {"capacity_reserve.1", amount, "t"}});
    // Level 0 fills 3 units, not the fourth.
    engine::decision low[3];
    for (auto& d : low) {
      d = b.arrive(0, 0, kind::request, 0);
      REQUIRE(d.what == engine::verdict::admitted);
    }
    CHECK(b.arrive(1, 1, kind::request, 0).what == engine::verdict::queued);
    // Level 1 takes it at once, past the level-0 waiter of another account.
    auto high = b.arrive(2, 2, kind::request, 0, -1, 0, no_id, 1);
    CHECK(high.what == engine::verdict::admitted);
    // Full: a level-1 arrival waits too, and a freed unit goes to it first.
    CHECK(b.arrive(2, 3, kind::request, 0, -1, 0, no_id, 1).what == engine::verdict::queued);
    b.e.release(low[0].held, 5);
    std::vector<engine::admission> in;
    b.e.admit_waiting(5, in);
    REQUIRE(in.size() == 1);
    CHECK(in[0].req.account == 2);
    // The level-1 unit frees: level 0 may not have it (3 units in use).
    in.clear();
    b.e.release(high.held, 6);
    b.e.admit_waiting(6, in);
    CHECK(in.empty());
    CHECK(b.e.usage_of(1).queued == 1);
    // A level-0 unit frees: the level-0 waiter runs.
    b.e.release(low[1].held, 7);
    b.e.admit_waiting(7, in);
    REQUIRE(in.size() == 1);
    CHECK(in[0].req.account == 1);
  }
}

TEST_CASE("capacity_reserve: reserves of several levels add up, and a request bigger than its room is refused") {
  // 10 units: 2 kept for level 1 and up, 3 more for level 2: level 0 may fill
  // 5, level 1 may fill 7, level 2 all 10.
  bench b("weighted", {{"model_capacity.m", "10", "t"}, {"limit", "none", "t"}, {"queue.max_depth", "5", "t"},
                       {"priority.max", "2", "t"}, {"capacity_reserve.1", "2", "t"},
                       {"capacity_reserve.2", "3", "t"}});
  CHECK(b.p->capacity_for_level(10, 0) == 5);
  CHECK(b.p->capacity_for_level(10, 1) == 7);
  CHECK(b.p->capacity_for_level(10, 2) == 10);
  // More than its level could ever fill: refused at once (429), not left to time out.
  auto big = b.arrive(0, 0, kind::request, 0, 6, 0, no_id, 0);
  CHECK(big.what == engine::verdict::done);
  CHECK(big.code == status::rejected);
  CHECK(big.why == reason::model_busy);
  CHECK(b.arrive(0, 0, kind::request, 0, 5, 0, no_id, 0).what == engine::verdict::admitted);
  CHECK(b.arrive(1, 0, kind::request, 0, 3, 0, no_id, 1).what == engine::verdict::queued);
  CHECK(b.arrive(1, 0, kind::request, 0, 2, 0, no_id, 1).what == engine::verdict::queued);  // FIFO
  CHECK(b.arrive(2, 0, kind::request, 0, 5, 0, no_id, 2).what == engine::verdict::admitted);
}

TEST_CASE("capacity_reserve: mistakes are named where they are written") {
  auto error_of = [](std::vector<plan::setting> s) {
    try {
      plan::build("per-model", s);
    } catch (const input_error& e) {
      return std::string(e.what());
    }
    return std::string("built");
  };
  CHECK_THAT(error_of({{"capacity_reserve.1", "2", "f:3"}}), Catch::Contains("no model_capacity"));
  CHECK_THAT(error_of({{"model_capacity", "4", "f:1"}, {"capacity_reserve.1", "4", "f:3"}}),
             Catch::Contains("f:3") && Catch::Contains("nothing of model_capacity (4)"));
  CHECK_THAT(error_of({{"model_capacity", "4", "f:1"}, {"capacity_reserve.0", "1", "f:3"}}),
             Catch::Contains("capacity_reserve.0"));
  CHECK_THAT(error_of({{"model_capacity", "4", "f:1"}, {"capacity_reserve.1", "120%", "f:3"}}),
             Catch::Contains("capacity_reserve.1"));
  CHECK_THAT(error_of({{"model_capacity", "4", "f:1"}, {"capacity_reserve.1", "1", "f:3"},
                       {"capacity_reserve.01", "1", "f:4"}}),
             Catch::Contains("reserved twice"));
  CHECK(error_of({{"model_capacity", "4", "f:1"}, {"capacity_reserve.1", "50%", "f:3"}}) == "built");
}

TEST_CASE("capacity_order fair counts units, and a head that does not fit lets the next account in") {
  // Weighted: capacity 4, account 0 holds 3 units (one request of 3), account 1
  // holds 1 and waits for 2 more; account 2 holds nothing and waits for 3.
  bench b("weighted", {{"model_capacity.m", "4", "t"}, {"limit", "none", "t"},
                       {"queue.max_depth", "5", "t"}, {"capacity_order", "fair", "t"}});
  auto big = b.arrive(0, 0, kind::request, 0, 3);
  REQUIRE(big.what == engine::verdict::admitted);
  REQUIRE(b.arrive(1, 0, kind::request, 0, 1).what == engine::verdict::admitted);
  REQUIRE(b.arrive(1, 1, kind::request, 0, 2).what == engine::verdict::queued);
  REQUIRE(b.arrive(2, 2, kind::request, 0, 3).what == engine::verdict::queued);
  // Account 0's 3 units free: account 2 (holding 0) goes first and takes 3;
  // account 1's 2 then no longer fit in the 1 unit left.
  b.e.release(big.held, 5);
  std::vector<engine::admission> in;
  b.e.admit_waiting(5, in);
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.account == 2);
  // Account 2's 3 units free: 3 free now, and account 1's head fits.
  auto third = in[0].held;
  in.clear();
  b.e.release(third, 6);
  b.e.admit_waiting(6, in);
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.account == 1);
}

TEST_CASE("a head too big for a model's capacity lets a smaller one behind it in, and no bigger one") {
  // Capacity 3: accounts 0 (2 units) and 4 (1 unit) fill it; 1 (2), 2 (1)
  // and 3 (2) wait in that order. One unit frees: 1 is too big, 2 fits, and
  // 3 is as big as 1 (the engine drops it unasked: it could not fit either).
  bench b("weighted", {{"model_capacity.m", "3", "t"}, {"limit", "none", "t"}, {"queue.max_depth", "5", "t"}});
  auto two = b.arrive(0, 0, kind::request, 0, 2);
  auto one = b.arrive(4, 0, kind::request, 0, 1);
  REQUIRE(two.what == engine::verdict::admitted);
  REQUIRE(one.what == engine::verdict::admitted);
  REQUIRE(b.arrive(1, 1, kind::request, 0, 2).what == engine::verdict::queued);
  REQUIRE(b.arrive(2, 2, kind::request, 0, 1).what == engine::verdict::queued);
  REQUIRE(b.arrive(3, 3, kind::request, 0, 2).what == engine::verdict::queued);
  std::vector<engine::admission> in;
  b.e.release(one.held, 5);
  b.e.admit_waiting(5, in);
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.account == 2);
  // Two units free: the oldest head, account 1's, goes first; 3 still waits.
  in.clear();
  b.e.release(two.held, 6);
  b.e.admit_waiting(6, in);
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.account == 1);
  CHECK(b.e.usage_of(3).queued == 1);
  // Account 2's unit frees: 1 unit, and account 3's 2 still do not fit.
  auto small = b.e.usage_of(2);
  CHECK(small.used == 1);
}

namespace {

// Eight accounts send one-unit requests, 10 s long, to model 0 of capacity 12,
// with random gaps (0.2 s on average); account 0 sends 7 in 8 of them, far
// more than the model serves, so its queue only grows; each other account
// asks for about 0.9 units on average.
// Checks that the model is never over its capacity, and under `fair` that
// every unit a release frees goes to a waiting account holding the fewest
// units (counted here, outside the engine). Returns how many requests of the
// light accounts (1..7) still wait at the end.
std::int64_t light_accounts_waiting(const std::string& order, std::uint64_t rng) {
  const int accounts = 8;
  const std::int64_t capacity = 12;
  bench b("per-model", {{"model_capacity.m", std::to_string(capacity), "t"},
                        {"queue.max_depth", "none", "t"}, {"queue.max_wait", "none", "t"},
                        {"capacity_order", order, "t"}});
  auto next = [&] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
  };
  std::multimap<usec, engine::lease> running;  // by end
  std::vector<std::int64_t> held(accounts, 0), waiting(accounts, 0);
  auto start = [&](const engine::lease& l, usec now) {
    running.emplace(now + seconds(10), l);
    ++held[l.account];
  };
  usec now = 0;
  for (int step = 0; step < 4000; ++step) {
    now += static_cast<usec>(next() % 400'000);
    // Releases due, then the queues, then the arrival (the same-instant order).
    bool released = false;
    while (!running.empty() && running.begin()->first <= now) {
      auto l = running.begin()->second;
      running.erase(running.begin());
      --held[l.account];
      b.e.release(l, now);
      released = true;
    }
    if (released) {
      std::vector<engine::admission> in;
      b.e.admit_waiting(now, in);
      for (auto& a : in) {
        if (order == "fair")
          for (int y = 0; y < accounts; ++y)
            if (waiting[y] > 0) CHECK(held[a.req.account] <= held[y]);
        --waiting[a.req.account];
        start(a.held, now);
      }
    }
    id who = next() % 8 == 0 ? static_cast<id>(1 + next() % (accounts - 1)) : 0;
    auto d = b.arrive(who, now, kind::request, 0);
    if (d.what == engine::verdict::admitted) start(d.held, now);
    else if (d.what == engine::verdict::queued) ++waiting[who];
    std::int64_t total = 0;
    for (auto h : held) total += h;
    REQUIRE(total <= capacity);
  }
  std::int64_t light = 0;
  for (int x = 1; x < accounts; ++x) light += waiting[x];
  return light;
}

}  // namespace

TEST_CASE("capacity_order fair: a heavy account no longer starves the light ones of a shared model") {
  std::uint64_t seed = GENERATE(1u, 7u, 42u);
  auto oldest = light_accounts_waiting("oldest", seed);
  auto fair = light_accounts_waiting("fair", seed);
  INFO("light requests still waiting: oldest " << oldest << ", fair " << fair);
  // First come, first served: they wait behind the heavy account's backlog.
  CHECK(oldest > 100);
  // A fair share (1.5 units each) covers their demand (about 0.9 units each).
  CHECK(fair < 10);
}

TEST_CASE("adaptive limit: a slow request multiplies the limit by the backoff, a fast one at half use adds 1") {
  bench b("streams", {{"limit", "4", "t"}, {"queue.max_depth", "0", "t"}, {"adaptive", "aimd", "t"},
                      {"adaptive.target", "5", "t"}, {"adaptive.backoff", "0.5", "t"}});
  std::vector<engine::lease> held;
  for (int i = 0; i < 4; ++i) {
    auto d = b.arrive(0, 0);
    REQUIRE(d.what == engine::verdict::admitted);
    held.push_back(d.held);
  }
  CHECK(b.e.usage_of(0).limit == 4);
  // Held 10 s, over the 5 s target: 4 x 0.5 = 2, below the 3 still held.
  b.e.release(held[0], seconds(10), seconds(10));
  CHECK(b.e.usage_of(0).limit == 2);
  CHECK(b.arrive(0, seconds(10)).why == reason::over_limit);
  // Fast, with 3 of 2 in use: 3. Then one fits again.
  b.e.release(held[1], seconds(11), seconds(1));
  CHECK(b.e.usage_of(0).limit == 3);
  auto again = b.arrive(0, seconds(11));
  REQUIRE(again.what == engine::verdict::admitted);
  // Fast again: 4, the plan's limit, which it never passes.
  b.e.release(held[2], seconds(12), seconds(1));
  CHECK(b.e.usage_of(0).limit == 4);
  b.e.release(held[3], seconds(12), seconds(1));
  CHECK(b.e.usage_of(0).limit == 4);
  // Slow ones never take it below adaptive.min (1).
  b.e.release(again.held, seconds(13), seconds(10));
  CHECK(b.e.usage_of(0).limit == 2);
  for (int i = 0; i < 3; ++i) {
    auto d = b.arrive(0, seconds(20 + i));
    REQUIRE(d.what == engine::verdict::admitted);
    b.e.release(d.held, seconds(30 + i), seconds(10));
  }
  CHECK(b.e.usage_of(0).limit == 1);
  // A fast request raises the limit only while half of it is used: one
  // request alone takes it from 1 to 2 and 2 to 3 (1 x 2 >= 2), not to 4.
  for (int i = 0; i < 3; ++i) {
    auto d = b.arrive(0, seconds(40 + i));
    REQUIRE(d.what == engine::verdict::admitted);
    b.e.release(d.held, seconds(40 + i), seconds(1));
  }
  CHECK(b.e.usage_of(0).limit == 3);
  // A request the plan's limit could hold is not refused for being bigger
  // than the adaptive limit of the moment: it is only over it for now.
  bench w("weighted", {{"limit", "4", "t"}, {"queue.max_depth", "2", "t"}, {"adaptive", "aimd", "t"},
                       {"adaptive.target", "5", "t"}, {"adaptive.backoff", "0.5", "t"}});
  auto one = w.arrive(0, 0, kind::request, no_id, 1);
  auto two = w.arrive(0, 0, kind::request, no_id, 1);
  REQUIRE(one.what == engine::verdict::admitted);
  REQUIRE(two.what == engine::verdict::admitted);
  w.e.release(one.held, seconds(10), seconds(10));
  REQUIRE(w.e.usage_of(0).limit == 2);
  CHECK(w.arrive(0, seconds(10), kind::request, no_id, 3).what == engine::verdict::queued);
  // And once nothing is held, the pool takes it whatever the limit of the
  // moment: the limit learns only from requests that end, so a head bigger
  // than it would otherwise wait for ever.
  w.e.release(two.held, seconds(11), seconds(10));
  CHECK(w.e.usage_of(0).limit == 1);
  std::vector<engine::admission> in;
  w.e.admit_waiting(seconds(11), in);
  REQUIRE(in.size() == 1);
  CHECK(in[0].held.cost == 3);
}

TEST_CASE("adaptive limit per token: the sample is the hold over the answer's tokens, a long answer is not a slow one") {
  bench b("streams", {{"limit", "4", "t"}, {"queue.max_depth", "0", "t"}, {"adaptive", "aimd", "t"},
                      {"adaptive.signal", "per_token", "t"}, {"adaptive.target", "50ms", "t"},
                      {"adaptive.backoff", "0.5", "t"}});
  std::vector<engine::lease> held;
  for (int i = 0; i < 4; ++i) {
    auto d = b.arrive(0, 0);
    REQUIRE(d.what == engine::verdict::admitted);
    held.push_back(d.held);
  }
  // 60 s for 2,000 tokens is 30 ms a token: fast, however long the hold
  // (with 4 of 4 in use the limit would rise, but it is at its ceiling).
  b.e.release(held[0], seconds(60), seconds(60), 2000);
  CHECK(b.e.usage_of(0).limit == 4);
  // 2 s for 20 tokens is 100 ms a token: slow, 4 x 0.5.
  b.e.release(held[1], seconds(60), seconds(2), 20);
  CHECK(b.e.usage_of(0).limit == 2);
  // No count (0): no sample at all, whatever the hold.
  b.e.release(held[2], seconds(61), seconds(600), 0);
  CHECK(b.e.usage_of(0).limit == 2);
  // Exactly at the target is not slow; one microsecond over is.
  b.e.release(held[3], seconds(61), 50'000 * 10, 10);
  CHECK(b.e.usage_of(0).limit == 3);  // fast, with 1 of 2 in use: + 1
  auto d = b.arrive(0, seconds(62));
  REQUIRE(d.what == engine::verdict::admitted);
  b.e.release(d.held, seconds(62), 50'000 * 10 + 1, 10);
  CHECK(b.e.adaptive_limit_of(0) == 1.5);
  CHECK(b.e.usage_of(0).limit == 1);
}

TEST_CASE("adaptive limit: the plan checks its keys") {
  CHECK_THROWS_WITH(plan::build("streams", {{"limit", "none", "t"}, {"adaptive", "aimd", "t"}}),
                    Catch::Contains("an adaptive limit needs a limit of 1 or more"));
  CHECK_THROWS_WITH(plan::build("streams", {{"adaptive", "gradient", "t"}}),
                    Catch::Contains("expected none or aimd"));
  CHECK_THROWS_WITH(plan::build("streams", {{"adaptive", "aimd", "t"}, {"adaptive.backoff", "1", "t"}}),
                    Catch::Contains("a fraction above 0 and below 1"));
  CHECK_THROWS_WITH(plan::build("streams", {{"adaptive", "aimd", "t"}, {"adaptive.min", "11", "t"}}),
                    Catch::Contains("adaptive.min"));
  CHECK_THROWS_WITH(plan::build("streams", {{"adaptive", "aimd", "t"}, {"adaptive.signal", "latency", "t"}}),
                    Catch::Contains("expected hold or per_token"));
  // The target's default follows the signal: 10 s a hold, 50 ms a token.
  auto by_hold = plan::build("streams", {{"adaptive", "aimd", "t"}});
  CHECK(!by_hold->profile(0).adaptive_per_token);
  CHECK(by_hold->profile(0).adaptive_target == seconds(10));
  auto by_token = plan::build("streams", {{"adaptive", "aimd", "t"}, {"adaptive.signal", "per_token", "t"}});
  CHECK(by_token->profile(0).adaptive_per_token);
  CHECK(by_token->profile(0).adaptive_target == seconds(1) / 20);
  // The keys are checked only when the limit is adaptive (as sessions.*).
  CHECK_NOTHROW(plan::build("streams", {{"adaptive.backoff", "1", "t"}}));
  CHECK_NOTHROW(plan::build("streams", {{"adaptive.signal", "latency", "t"}}));
}

TEST_CASE("a request costing more than a whole pool is refused at once, not queued") {
  bench b("weighted", {{"limit", "4", "t"}, {"queue.max_depth", "5", "t"}});
  auto d = b.arrive(0, 0, kind::request, no_id, 5);
  CHECK(d.code == status::rejected);
  CHECK(b.e.usage_of(0).queued == 0);
}

TEST_CASE("session-rate: no cap on concurrent sessions, a cap on new ones per window") {
  bench b("session-rate", {{"sessions_per_minute", "3", "t"}});
  for (int i = 0; i < 3; ++i) REQUIRE(b.arrive(0, seconds(i), kind::session).what == engine::verdict::admitted);
  auto d = b.arrive(0, seconds(10), kind::session);
  CHECK(d.code == status::policy_close);
  CHECK(d.why == reason::session_rate);
  CHECK(b.e.usage_of(0).in_flight == 3);
  // The next window opens at 60 s (windows are aligned to time 0).
  CHECK(b.arrive(0, seconds(60), kind::session).what == engine::verdict::admitted);
}

TEST_CASE("cancel removes a waiter that left and the next one becomes head") {
  bench b("streams:solo");
  for (int i = 0; i < 3; ++i) (void)b.arrive(0, 0);
  REQUIRE(b.arrive(0, seconds(1)).what == engine::verdict::queued);  // tag 3
  REQUIRE(b.arrive(0, seconds(2)).what == engine::verdict::queued);  // tag 4
  CHECK(b.e.cancel(0, 3));
  CHECK_FALSE(b.e.cancel(0, 3));
  CHECK(b.e.next_deadline() == seconds(62));
  CHECK(b.e.usage_of(0).queued == 1);
}
