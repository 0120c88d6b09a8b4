// The live node's state without CAF or a clock: time moves only when the
// test moves it. Leases, their TTL, waiters that leave, tickets, and that
// every held request is answered exactly once (issue #5).
#include "actors/detail/live_ledger.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <set>

using namespace usher;
using namespace usher::actors;
using detail::live_ledger;
using policies::seconds;

namespace {

live_ledger solo(policies::usec ttl = seconds(10)) {
  auto p = policies::plan::build("streams:solo",
                                 {{"queue.max_depth", "2", "t"}, {"queue.max_wait", "5", "t"}});
  return live_ledger(p, {"acme", "beta"}, ttl, 1'700'000'000'000, 16, 42);
}

admit_request ask(const std::string& account, std::uint64_t id, bool async = false) {
  admit_request r;
  r.account = account;
  r.request_id = id;
  r.model = "m";
  r.async = async;
  return r;
}

// Takes acme's three solo streams at time 0 (requests 1-3); their leases.
std::vector<std::string> fill_streams(live_ledger& l, std::vector<live_ledger::answer>& out) {
  std::vector<std::string> leases;
  admit_reply r;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    REQUIRE(l.admit(ask("acme", i), 0, r, out));
    REQUIRE(r.code == 200);
    leases.push_back(r.lease);
  }
  return leases;
}

// acme's three streams taken at 0, and a ticket queued behind them that is
// granted at 1 s, when the first of them is released.
std::string ticket_granted_at_1s(live_ledger& l, std::vector<live_ledger::answer>& out) {
  admit_reply r;
  auto first = fill_streams(l, out)[0];
  REQUIRE(l.admit(ask("acme", 4, true), 0, r, out));
  REQUIRE(r.code == 202);
  CHECK(l.lease({"acme", first, lease_op::release}, seconds(1), out).code == 200);
  return r.ticket;
}

}  // namespace

TEST_CASE("a queued waiter is answered once when a lease is released") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto leases = fill_streams(l, out);
  CHECK_FALSE(l.admit(ask("acme", 4), 100, r, out));  // held
  CHECK(out.empty());
  CHECK(l.lease({"acme", leases[0], lease_op::release}, seconds(1), out).code == 200);
  REQUIRE(out.size() == 1);
  CHECK(out[0].tag == 4);
  CHECK(out[0].reply.code == 200);
  CHECK(out[0].reply.waited_us == seconds(1) - 100);
  CHECK(l.lease_count() == 3);
}

TEST_CASE("a waiter past max_wait gets 408 and one that leaves gets 499") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  for (std::uint64_t i = 1; i <= 3; ++i) REQUIRE(l.admit(ask("acme", i), 0, r, out));
  CHECK_FALSE(l.admit(ask("acme", 4), seconds(1), r, out));
  CHECK_FALSE(l.admit(ask("acme", 5), seconds(2), r, out));
  CHECK(l.next_deadline() == seconds(6));
  l.cancel({"acme", 5}, seconds(3), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].tag == 5);
  CHECK(out[0].reply.code == 499);
  out.clear();
  l.cancel({"acme", 5}, seconds(3), out);  // twice: nothing more
  CHECK(out.empty());
  l.advance(seconds(6), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].tag == 4);
  CHECK(out[0].reply.code == 408);
  CHECK(out[0].reply.waited_us == seconds(5));
}

TEST_CASE("a lease not renewed within its TTL is released and lets the queue in") {
  auto l = solo(seconds(2));
  std::vector<live_ledger::answer> out;
  admit_reply r;
  std::string kept;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    REQUIRE(l.admit(ask("acme", i), 0, r, out));
    if (i == 1) kept = r.lease;
  }
  CHECK_FALSE(l.admit(ask("acme", 4), seconds(1), r, out));
  CHECK(l.lease({"acme", kept, lease_op::renew}, seconds(1), out).ttl_ms == 2000);
  CHECK(l.next_deadline() == seconds(2));
  l.advance(seconds(2), out);  // two leases expire, the waiter gets one slot
  REQUIRE(out.size() == 1);
  CHECK(out[0].reply.code == 200);
  CHECK(l.lease_count() == 2);
  CHECK(l.metrics().accounts[0].leases_expired == 2);
  l.advance(seconds(3), out);  // the renewed one expires at 3 s
  CHECK(l.lease_count() == 1);
}

TEST_CASE("an async request that queues gets a ticket that reports its outcome") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto first = fill_streams(l, out)[0];
  REQUIRE(l.admit(ask("acme", 4, true), 0, r, out));
  REQUIRE(r.code == 202);
  auto ticket = r.ticket;
  CHECK_FALSE(l.poll({"acme", ticket}, 1000, 0, r, out));
  CHECK(l.poll({"beta", ticket}, 1001, seconds(1), r, out));  // another account: 404
  CHECK(r.code == 404);
  CHECK(l.lease({"acme", first, lease_op::release}, seconds(1), out).code == 200);
  REQUIRE(out.size() == 1);
  CHECK(out[0].tag == 1000);
  CHECK(out[0].reply.code == 200);
  CHECK(l.poll({"acme", ticket}, 1002, seconds(1), r, out));  // decided: answered at once
  CHECK(r.lease == out[0].reply.lease);
}

TEST_CASE("a ticket's lease read late says the TTL it has left, and once it has ended the ticket says 410") {
  auto l = solo(seconds(10));
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto ticket = ticket_granted_at_1s(l, out);
  // Nobody polls until 7 s: 4 s of the TTL are left.
  CHECK(l.poll({"acme", ticket}, 1000, seconds(7), r, out));
  CHECK(r.code == 200);
  CHECK(r.lease_ttl_ms == 4000);
  auto lease = r.lease;
  // Renewed, the lease runs a whole TTL from the renewal, and a later read says so.
  CHECK(l.lease({"acme", lease, lease_op::renew}, seconds(8), out).code == 200);
  CHECK(l.poll({"acme", ticket}, 1001, seconds(9), r, out));
  CHECK(r.lease_ttl_ms == 9000);
  // Once the lease has ended, a read of the ticket no longer hands it out: 410.
  CHECK(l.lease({"acme", lease, lease_op::release}, seconds(10), out).code == 200);
  CHECK(l.poll({"acme", ticket}, 1002, seconds(10), r, out));
  CHECK(r.code == 410);
  CHECK(r.lease.empty());
}

TEST_CASE("a ticket's lease with less than a third of its TTL left is not handed out: 410") {
  auto l = solo(seconds(9));
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto ticket = ticket_granted_at_1s(l, out);  // ends at 10 s unless renewed
  CHECK(l.poll({"acme", ticket}, 1000, seconds(7), r, out));  // 3 s left: a third, kept
  CHECK(r.code == 200);
  CHECK(r.lease_ttl_ms == 3000);
  // Later, less than a third left: the holder could not renew in time.
  CHECK(l.poll({"acme", ticket}, 1001, seconds(7) + 1, r, out));
  CHECK(r.code == 410);
  CHECK(r.lease.empty());
  // Under a millisecond left never reads as a lease without a TTL (ttl_ms 0).
  CHECK(l.poll({"acme", ticket}, 1002, seconds(10) - 1, r, out));
  CHECK(r.code == 410);
}

TEST_CASE("a ticket whose lease ran out uncollected says 410 for a TTL more, then is forgotten") {
  auto l = solo(seconds(10));
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto ticket = ticket_granted_at_1s(l, out);
  // Nobody polls, nobody renews: the lease ends at 11 s.
  CHECK(l.lease_count() == 3);
  l.advance(seconds(12), out);
  CHECK(l.lease_count() == 0);  // none renewed: the streams' and the ticket's have ended
  CHECK(l.poll({"acme", ticket}, 1000, seconds(12), r, out));
  CHECK(r.code == 410);
  CHECK(l.poll({"acme", ticket}, 1001, seconds(20), r, out));
  CHECK(r.code == 410);
  // Two TTLs after its decision the ticket is forgotten.
  l.advance(seconds(21), out);
  CHECK(l.poll({"acme", ticket}, 1002, seconds(21), r, out));
  CHECK(r.code == 404);
}

TEST_CASE("a ticket given up leaves the queue once, and a granted one gives its lease back") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto leases = fill_streams(l, out);
  REQUIRE(l.admit(ask("acme", 4, true), 0, r, out));
  auto queued = r.ticket;
  CHECK_FALSE(l.poll({"acme", queued}, 1000, 0, r, out));
  CHECK(l.cancel_ticket({"beta", queued}, seconds(1), out).code == 404);
  CHECK(l.cancel_ticket({"acme", queued}, seconds(1), out).code == 200);
  REQUIRE(out.size() == 1);  // the poller, once, with 499
  CHECK(out[0].tag == 1000);
  CHECK(out[0].reply.code == 499);
  CHECK(l.cancel_ticket({"acme", queued}, seconds(1), out).code == 404);
  out.clear();
  // A release lets nobody in: the queue is empty.
  CHECK(l.lease({"acme", leases[0], lease_op::release}, seconds(2), out).code == 200);
  CHECK(out.empty());
  CHECK(l.lease_count() == 2);

  // A ticket decided with a lease nobody collected: giving it up releases it.
  REQUIRE(l.admit(ask("acme", 5), seconds(3), r, out));  // the freed stream
  REQUIRE(l.admit(ask("acme", 6, true), seconds(3), r, out));
  auto granted = r.ticket;
  CHECK(l.lease({"acme", leases[1], lease_op::release}, seconds(4), out).code == 200);
  CHECK(l.lease_count() == 3);  // the ticket's lease holds the stream
  CHECK(l.cancel_ticket({"acme", granted}, seconds(5), out).code == 200);
  CHECK(l.lease_count() == 2);
  CHECK(l.poll({"acme", granted}, 1001, seconds(5), r, out));
  CHECK(r.code == 404);
}

TEST_CASE("the snapshot lists only the account's own requests oldest first") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  REQUIRE(l.admit(ask("acme", 1), 1000, r, out));
  REQUIRE(l.admit(ask("beta", 2), 2000, r, out));
  REQUIRE(l.admit(ask("acme", 3), 3000, r, out));
  auto s = l.snapshot("acme", 10'000);
  CHECK(s.limit == 3);
  CHECK(s.used_cost == 2);
  REQUIRE(s.requests.size() == 2);
  CHECK(s.requests[0].started_at_ms == 1'700'000'000'001);
  CHECK(s.requests[0].duration_ms == 9);
  CHECK(s.requests[1].started_at_ms == 1'700'000'000'003);
  CHECK(l.snapshot("nobody", 0).requests.empty());
}

TEST_CASE("drain answers every held request with 503") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  for (std::uint64_t i = 1; i <= 3; ++i) REQUIRE(l.admit(ask("acme", i), 0, r, out));
  CHECK_FALSE(l.admit(ask("acme", 4), 0, r, out));
  REQUIRE(l.admit(ask("acme", 5, true), 0, r, out));
  CHECK_FALSE(l.poll({"acme", r.ticket}, 99, 0, r, out));
  l.drain(out);
  REQUIRE(out.size() == 2);
  for (auto& a : out) CHECK(a.reply.code == 503);
}

// -- names an account may use (issue #9, item 3) --------------------------------

namespace {

// Per-model pools of 1 and a provider-wide capacity of 1 per model (all
// accounts in one ledger, as on a node), `big` named by the plan with 2.
live_ledger shared_models(std::size_t max_names) {
  auto p = policies::plan::build("per-model", {{"limit", "1", "t"},
                                               {"model_capacity", "1", "t"},
                                               {"model_capacity.big", "2", "t"}});
  return live_ledger(p, {"acme", "beta"}, seconds(10), 0, max_names, 42);
}

admit_request ask_model(const std::string& account, std::uint64_t id, const std::string& model,
                        const std::string& product = "") {
  admit_request r;
  r.account = account;
  r.request_id = id;
  r.model = model;
  r.product = product;
  return r;
}

}  // namespace

TEST_CASE("one account cannot use up the names of another") {
  auto l = shared_models(2);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  REQUIRE(l.admit(ask_model("acme", 1, "m1"), 0, r, out));
  CHECK(r.code == 200);
  REQUIRE(l.admit(ask_model("acme", 2, "m2"), 0, r, out));
  CHECK(r.code == 200);
  REQUIRE(l.admit(ask_model("acme", 3, "m3"), 0, r, out));
  CHECK(r.code == 400);  // acme holds two names: a third is too many
  REQUIRE(l.admit(ask_model("acme", 4, "m1", "p"), 0, r, out));
  CHECK(r.code == 400);  // a product is a name too
  // beta has names of its own, new ones and one acme holds alike.
  REQUIRE(l.admit(ask_model("beta", 5, "m3"), 0, r, out));
  CHECK(r.code == 200);
  REQUIRE(l.admit(ask_model("beta", 6, "m2"), 0, r, out));
  CHECK(r.code == 429);  // m2's capacity of 1 is acme's: the engine decides, not the names
  REQUIRE(l.admit(ask_model("beta", 7, "m4"), 0, r, out));
  CHECK(r.code == 200);
  CHECK(l.test_name_count() == 4);
  // A model the plan names is not counted against an account's names.
  REQUIRE(l.admit(ask_model("acme", 8, "big"), 0, r, out));
  CHECK(r.code == 200);
  CHECK(l.metrics().accounts[0].names == 2);
}

TEST_CASE("a name is held while a lease or a waiter uses it, then forgotten and reusable") {
  auto p = policies::plan::build("streams:solo", {{"queue.max_depth", "5", "t"},
                                                  {"queue.max_wait", "5", "t"}});
  live_ledger l(p, {"acme"}, seconds(10), 0, 2, 42);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  std::vector<std::string> leases;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    REQUIRE(l.admit(ask_model("acme", i, "a"), 0, r, out));
    leases.push_back(r.lease);
  }
  CHECK_FALSE(l.admit(ask_model("acme", 4, "b"), 0, r, out));  // queued: holds "b"
  REQUIRE(l.admit(ask_model("acme", 5, "c"), 0, r, out));
  CHECK(r.code == 400);
  l.cancel({"acme", 4}, seconds(1), out);  // the waiter leaves: "b" is free
  CHECK_FALSE(l.admit(ask_model("acme", 6, "c"), seconds(1), r, out));  // queued: holds "c"
  REQUIRE(l.admit(ask_model("acme", 7, "d"), seconds(1), r, out));
  CHECK(r.code == 400);
  l.advance(seconds(6), out);  // 408 for request 6: "c" is free
  CHECK(l.test_name_count() == 1);
  // A ticket holds its name while queued; giving it up frees it.
  auto async = ask_model("acme", 8, "e");
  async.async = true;
  REQUIRE(l.admit(async, seconds(6), r, out));
  REQUIRE(r.code == 202);
  auto ticket = r.ticket;
  REQUIRE(l.admit(ask_model("acme", 9, "f"), seconds(6), r, out));
  CHECK(r.code == 400);
  CHECK(l.cancel_ticket({"acme", ticket}, seconds(6), out).code == 200);
  // Leases of "a" released: nothing is held, every name is forgotten.
  for (auto& lease : leases) CHECK(l.lease({"acme", lease, lease_op::release}, seconds(7), out).code == 200);
  CHECK(l.test_name_count() == 0);
  REQUIRE(l.admit(ask_model("acme", 10, "f"), seconds(7), r, out));
  CHECK(r.code == 200);
  REQUIRE(l.admit(ask_model("acme", 11, "g"), seconds(7), r, out));
  CHECK(r.code == 200);
  CHECK(l.test_name_count() == 2);
}

TEST_CASE("endless distinct names keep the name table bounded, per account") {
  auto l = shared_models(4);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  std::uint64_t id = 1;
  std::size_t refused = 0;
  for (int i = 0; i < 20'000; ++i) {
    // acme takes names without giving them back (it keeps its leases) ...
    REQUIRE(l.admit(ask_model("acme", id++, "hog-" + std::to_string(i)), i, r, out));
    if (r.code == 400) ++refused;
    // ... beta churns through a new name a time.
    REQUIRE(l.admit(ask_model("beta", id++, "churn-" + std::to_string(i)), i, r, out));
    REQUIRE(r.code == 200);
    CHECK(l.lease({"beta", r.lease, lease_op::release}, i, out).code == 200);
    REQUIRE(l.test_name_count() <= 8);
  }
  CHECK(refused == 20'000 - 4);
  CHECK(l.test_name_count() == 4);
  CHECK(l.metrics().accounts[0].names == 4);
  CHECK(l.metrics().accounts[1].names == 0);
}

TEST_CASE("a reused name id starts with its pools at zero use") {
  auto l = shared_models(8);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  // acme holds x, beta holds y (ids 1 and 2: the plan's "big" is 0).
  REQUIRE(l.admit(ask_model("acme", 1, "x"), 0, r, out));
  REQUIRE(r.code == 200);
  auto x = r.lease;
  REQUIRE(l.admit(ask_model("beta", 2, "y"), 0, r, out));
  REQUIRE(r.code == 200);
  REQUIRE(l.admit(ask_model("acme", 3, "y"), 0, r, out));
  CHECK(r.code == 429);  // y's provider-wide capacity (1) is beta's
  CHECK(r.why == policies::reason::model_busy);
  // x is released and forgotten; acme's next new name, z, takes its id,
  // whose (acme, id) pool and shared pool x had used.
  CHECK(l.lease({"acme", x, lease_op::release}, 1, out).code == 200);
  CHECK(l.test_name_count() == 1);
  REQUIRE(l.admit(ask_model("acme", 4, "z"), 1, r, out));
  CHECK(r.code == 200);
  REQUIRE(l.admit(ask_model("acme", 5, "z"), 1, r, out));
  CHECK(r.code == 429);  // acme's (acme, z) pool holds 1 of 1, no more, no less
  CHECK(r.why == policies::reason::over_limit);
  REQUIRE(l.admit(ask_model("beta", 6, "z"), 1, r, out));
  CHECK(r.code == 429);  // z's capacity of 1 is acme's
  CHECK(r.why == policies::reason::model_busy);
  REQUIRE(l.admit(ask_model("beta", 7, "w"), 1, r, out));
  CHECK(r.code == 200);  // a new name, a fresh id, fresh pools
  // The plan's model keeps its own capacity (2) through all this.
  REQUIRE(l.admit(ask_model("acme", 8, "big"), 1, r, out));
  CHECK(r.code == 200);
  REQUIRE(l.admit(ask_model("beta", 9, "big"), 1, r, out));
  CHECK(r.code == 200);
  REQUIRE(l.admit(ask_model("beta", 10, "big"), 1, r, out));
  CHECK(r.code == 429);
  CHECK(l.snapshot("acme", 1).used_cost == 2);
  CHECK(l.snapshot("beta", 1).used_cost == 3);
  CHECK(l.test_name_count() == 3);
}

// -- recovery after a restart (issue #9, item 5) --------------------------------

namespace {

lease_request renew(const std::string& account, const std::string& lease,
                    const std::string& model = "", std::int64_t cost = -1) {
  lease_request q{account, lease, lease_op::renew};
  q.model = model;
  q.cost = cost;
  return q;
}

}  // namespace

TEST_CASE("while recovering, new grants wait with a Retry-After that counts down") {
  auto l = solo(seconds(10));
  l.recover_until(seconds(10));
  std::vector<live_ledger::answer> out;
  admit_reply r;
  REQUIRE(l.admit(ask("acme", 1), 0, r, out));
  CHECK(r.code == 503);
  CHECK(r.why == policies::reason::recovering);
  CHECK(r.retry_after_s == 10);
  REQUIRE(l.admit(ask("acme", 2, true), seconds(3) + 1, r, out));  // tickets too
  CHECK(r.code == 503);
  CHECK(r.retry_after_s == 7);
  auto ws = ask("beta", 3);
  ws.what = policies::kind::ws_open;
  ws.holder_is_connection = true;
  REQUIRE(l.admit(ws, seconds(9) + seconds(1) / 2, r, out));
  CHECK(r.code == 503);
  CHECK(r.retry_after_s == 1);
  CHECK(l.lease_count() == 0);
  // The window ends: grants resume.
  REQUIRE(l.admit(ask("acme", 4), seconds(10), r, out));
  CHECK(r.code == 200);
  CHECK(l.metrics().accounts[0].outcomes.front() == std::make_pair(std::uint16_t{200}, std::int64_t{1}));
}

TEST_CASE("while recovering, a renewal adopts an unknown lease and a release of one is 200") {
  auto l = solo(seconds(10));
  l.recover_until(seconds(10));
  std::vector<live_ledger::answer> out;
  auto a = l.lease(renew("acme", "held-before-1"), seconds(1), out);
  CHECK(a.code == 200);
  CHECK(a.ttl_ms == 10'000);
  CHECK(l.lease_count() == 1);
  CHECK(l.snapshot("acme", seconds(1)).used_cost == 1);
  CHECK(l.snapshot("acme", seconds(1)).requests.at(0).id == "held-before-1");
  // Renewed again: the lease is known now.
  CHECK(l.lease(renew("acme", "held-before-1"), seconds(2), out).code == 200);
  CHECK(l.lease_count() == 1);
  // A release of an unknown lease: nothing to free.
  CHECK(l.lease({"acme", "never-seen", lease_op::release}, seconds(2), out).code == 200);
  CHECK(l.lease({"nobody", "x", lease_op::renew}, seconds(2), out).code == 404);
  // A known one is released as usual.
  CHECK(l.lease({"acme", "held-before-1", lease_op::release}, seconds(3), out).code == 200);
  CHECK(l.lease_count() == 0);
  // After the window, unknown is unknown again.
  CHECK(l.lease(renew("acme", "held-before-2"), seconds(10), out).code == 404);
  CHECK(l.lease({"acme", "held-before-2", lease_op::release}, seconds(10), out).code == 404);
  auto m = l.metrics().accounts[0];
  CHECK(m.adopted == 1);
  CHECK(m.adopted_over_limit == 0);
}

TEST_CASE("adopted leases count against the limit, even over it, until they end") {
  // Weighted, limit 4: holders claim 3 + 2 = 5 units (the plan was 5 before the restart).
  auto p = policies::plan::build("weighted", {{"limit", "4", "t"}});
  live_ledger l(p, {"org"}, seconds(30), 0, 16, 42);
  l.recover_until(seconds(10));
  std::vector<live_ledger::answer> out;
  CHECK(l.lease(renew("org", "l1", "", 3), seconds(1), out).code == 200);
  CHECK(l.lease(renew("org", "l2", "m", 2), seconds(1), out).code == 200);  // over: still adopted
  CHECK(l.lease(renew("org", "l3", "", 5), seconds(1), out).code == 404);   // never fit in 4
  CHECK(l.lease(renew("org", "l4", "", 4), seconds(1), out).code == 404);   // past twice the limit
  auto m = l.metrics().accounts[0];
  CHECK(m.adopted == 2);
  CHECK(m.adopted_over_limit == 1);
  CHECK(m.used == 5);
  CHECK(m.names == 1);
  // The window ends; use is over the limit, so nothing is granted ...
  admit_reply r;
  auto one = ask("org", 1);
  one.model = "";
  one.cost = 1;
  REQUIRE(l.admit(one, seconds(10), r, out));
  CHECK(r.code == 429);
  // ... until use is back under it: 5 - 2 = 3, and 3 + 1 fits in 4.
  CHECK(l.lease({"org", "l2", lease_op::release}, seconds(11), out).code == 200);
  CHECK(l.metrics().accounts[0].names == 0);
  one.request_id = 2;
  REQUIRE(l.admit(one, seconds(11), r, out));
  CHECK(r.code == 200);
  one.request_id = 3;
  REQUIRE(l.admit(one, seconds(11), r, out));
  CHECK(r.code == 429);  // 4 of 4
}

TEST_CASE("an adopted lease not renewed expires with its TTL") {
  auto l = solo(seconds(2));
  l.recover_until(seconds(2));
  std::vector<live_ledger::answer> out;
  CHECK(l.lease(renew("acme", "old-1"), seconds(1), out).ttl_ms == 2000);
  CHECK(l.lease(renew("acme", "old-2"), seconds(1), out).code == 200);
  CHECK(l.lease(renew("acme", "old-2"), seconds(2), out).code == 200);  // known: renewed to 4 s
  CHECK(l.next_deadline() == seconds(3));
  l.advance(seconds(3), out);
  CHECK(l.lease_count() == 1);
  CHECK(l.metrics().accounts[0].leases_expired == 1);
  l.advance(seconds(4), out);
  CHECK(l.lease_count() == 0);
  admit_reply r;
  REQUIRE(l.admit(ask("acme", 1), seconds(4), r, out));
  CHECK(r.code == 200);
}

TEST_CASE("a drain empties every queue at once, answers 503, and lets holders finish") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto leases = fill_streams(l, out);
  CHECK_FALSE(l.admit(ask("acme", 4), 100, r, out));        // a sync waiter
  REQUIRE(l.admit(ask("acme", 5, true), 200, r, out));      // a ticket
  REQUIRE(r.code == 202);
  auto ticket = r.ticket;
  admit_reply polled;
  CHECK_FALSE(l.poll({"acme", ticket}, 900, 200, polled, out));  // a poller held
  l.start_draining(seconds(1), out);
  REQUIRE(out.size() == 2);
  for (auto& a : out) {
    CHECK(a.reply.code == 503);
    CHECK(a.reply.retry_after_s == 1);
  }
  CHECK((out[0].tag == 4 || out[1].tag == 4));
  CHECK((out[0].tag == 900 || out[1].tag == 900));
  out.clear();
  // A release lets nobody in: the queue is empty.
  CHECK(l.lease({"acme", leases[0], lease_op::release}, seconds(2), out).code == 200);
  CHECK(out.empty());
  CHECK(l.lease_count() == 2);
  // New admissions get 503; a later poll of the drained ticket too.
  REQUIRE(l.admit(ask("beta", 6), seconds(2), r, out));
  CHECK(r.code == 503);
  REQUIRE(l.poll({"acme", ticket}, 901, seconds(2), polled, out));
  CHECK(polled.code == 503);
  // Renewals still work, so holders can finish.
  CHECK(l.lease({"acme", leases[1], lease_op::renew}, seconds(3), out).code == 200);
  CHECK(l.lease({"acme", leases[1], lease_op::release}, seconds(3), out).code == 200);
  CHECK(l.lease({"acme", leases[2], lease_op::release}, seconds(3), out).code == 200);
  CHECK(l.lease_count() == 0);
}

TEST_CASE("a reload moves every lease, waiter and name to the new plan") {
  auto before = policies::plan::build("streams:solo", {{"queue.max_depth", "2", "t"}});
  live_ledger l(before, {"acme"}, seconds(10), 0, 16, 42);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  std::vector<std::string> leases;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    auto q = ask("acme", i);
    q.model = i == 1 ? "llama" : "m" + std::to_string(i);
    REQUIRE(l.admit(q, 0, r, out));
    REQUIRE(r.code == 200);
    leases.push_back(r.lease);
  }
  auto waiting = ask("acme", 4);
  waiting.model = "mistral";
  CHECK_FALSE(l.admit(waiting, 100, r, out));
  CHECK(l.test_name_count() == 4);
  // The new plan names a model (its id changes: the plan's models come
  // first), has 4 streams and a new account.
  auto after = policies::plan::build("streams:solo", {{"streams", "4", "t"},
                                                      {"model_capacity.llama", "8", "t"}});
  l.reload(after, {"acme", "beta"}, seconds(1), out);
  // The waiter fits now: answered at the reload, its lease held.
  REQUIRE(out.size() == 1);
  CHECK(out[0].tag == 4);
  CHECK(out[0].reply.code == 200);
  CHECK(l.lease_count() == 4);
  auto snap = l.snapshot("acme", seconds(1));
  CHECK(snap.limit == 4);
  CHECK(snap.used_cost == 4);
  std::set<std::string> models;
  for (auto& x : snap.requests) models.insert(x.model);
  CHECK(models == std::set<std::string>{"llama", "m2", "m3", "mistral"});
  // llama is the plan's now (not counted); the others are still lent.
  CHECK(l.test_name_count() == 3);
  out.clear();
  for (auto& lease : leases) CHECK(l.lease({"acme", lease, lease_op::release}, seconds(2), out).code == 200);
  CHECK(l.lease_count() == 1);  // the waiter's, granted at the reload
  CHECK(l.test_name_count() == 1);  // mistral, held by it
  // The new account exists.
  REQUIRE(l.admit(ask("beta", 9), seconds(2), r, out));
  CHECK(r.code == 200);
}

TEST_CASE("a handoff carries an account's buckets, session window and adaptive limit to the new owner") {
  // Two members whose clocks started apart: the giver hands over at 61 s of
  // its own, the taker takes in at 500 s of its own.
  auto handed = [](const std::vector<policies::plan::setting>& settings, auto&& on_giver) {
    auto p = policies::plan::build("streams:solo", settings);
    live_ledger giver(p, {"acme"}, seconds(10), 1'700'000'000'000, 16, 42);
    std::vector<live_ledger::answer> out;
    on_giver(giver, out);
    auto moved = giver.hand_off(seconds(61), out);
    auto taker = std::make_unique<live_ledger>(p, std::vector<std::string>{"acme"}, seconds(10),
                                                1'700'000'400'000, 16, 43);
    taker->take_in(moved, seconds(500));
    return std::make_pair(std::move(taker), moved);
  };
  std::vector<live_ledger::answer> out;
  admit_reply r;
  // Starts and ends one request of model `model` at `at` on `l`, held `hold`.
  auto run = [&](live_ledger& l, std::uint64_t id, const std::string& model, policies::usec at,
                 policies::usec hold) {
    auto q = ask("acme", id);
    q.model = model;
    REQUIRE(l.admit(q, at, r, out));
    REQUIRE(r.code == 200);
    REQUIRE(l.lease({"acme", r.lease, lease_op::release}, at + hold, out).code == 200);
  };

  SECTION("request buckets, the account's and a model's") {
    auto [taker, moved] = handed({{"requests_per_minute", "3", "t"}, {"requests_per_minute.llama", "1", "t"}},
                                 [&](live_ledger& l, auto&) {
                                   run(l, 1, "llama", seconds(60), seconds(1) / 2);
                                   run(l, 2, "m", seconds(60), seconds(1) / 2);
                                 });
    REQUIRE(moved.accounts.size() == 1);
    CHECK(moved.accounts[0].buckets.size() == 2);
    auto q = ask("acme", 3);
    q.model = "llama";
    REQUIRE(taker->admit(q, seconds(500), r, out));
    CHECK(r.code == 429);  // llama's one a minute is taken
    CHECK(r.why == policies::reason::request_rate);
    CHECK(r.retry_after_s >= 55);  // refills from the giver's 60 s, a minute's
    REQUIRE(taker->admit(ask("acme", 4), seconds(500), r, out));
    CHECK(r.code == 200);  // the third of the account's three
    REQUIRE(taker->admit(ask("acme", 5), seconds(500), r, out));
    CHECK(r.code == 429);
    CHECK(r.why == policies::reason::request_rate);
  }
  SECTION("the session window") {
    auto [taker, moved] = handed({{"sessions_per_minute", "2", "t"}}, [&](live_ledger& l, auto&) {
      // In the giver's window 60-120 s, which ends 59 s after the handoff.
      run(l, 1, "m", seconds(60) + seconds(1) / 2, seconds(1) / 10);
      run(l, 2, "m", seconds(60) + seconds(1) / 2, seconds(1) / 10);
    });
    REQUIRE(moved.accounts.size() == 1);
    CHECK(moved.accounts[0].has_sessions);
    REQUIRE(taker->admit(ask("acme", 3), seconds(500), r, out));
    CHECK(r.code != 200);
    CHECK(r.why == policies::reason::session_rate);
    CHECK(r.retry_after_s == 59);
  }
  SECTION("an adaptive limit as learned, and the mean hold behind Retry-After") {
    auto [taker, moved] = handed({{"adaptive", "aimd", "t"}, {"adaptive.target", "1", "t"},
                                  {"adaptive.backoff", "0.5", "t"}, {"queue.max_depth", "0", "t"}},
                                 [&](live_ledger& l, auto&) { run(l, 1, "m", 0, seconds(5)); });
    REQUIRE(moved.accounts.size() == 1);
    CHECK(moved.accounts[0].adaptive_limit == 1.5);  // 3 halved by one slow request
    CHECK(moved.accounts[0].mean_hold_us == seconds(5));
    REQUIRE(taker->admit(ask("acme", 2), seconds(500), r, out));
    CHECK(r.code == 200);
    CHECK(r.limit == 1);
    REQUIRE(taker->admit(ask("acme", 3), seconds(500), r, out));
    CHECK(r.code == 429);
    CHECK(r.retry_after_s == 5);  // one lease ahead, held 5 s on average
  }
}

TEST_CASE("a release says its answer's tokens: a per-token adaptive limit learns from them, and only from them") {
  auto plan = policies::plan::build(
      "streams:solo", {{"streams", "8", "t"}, {"adaptive", "aimd", "t"}, {"adaptive.signal", "per_token", "t"},
                       {"adaptive.target", "50ms", "t"}, {"adaptive.backoff", "0.5", "t"}});
  live_ledger l(plan, {"acme"}, seconds(100), 0, 16, 42);
  std::vector<live_ledger::answer> out;
  auto held_then_released = [&](policies::usec at, policies::usec held, std::uint32_t tokens) {
    admit_reply r;
    REQUIRE(l.admit(ask("acme", 1), at, r, out));
    REQUIRE(r.code == 200);
    CHECK(r.count_tokens);  // the holder is asked to count them
    lease_request release{"acme", r.lease, lease_op::release};
    release.output_tokens = tokens;
    REQUIRE(l.lease(release, at + held, out).code == 200);
  };
  held_then_released(0, seconds(30), 1000);  // 30 ms a token: fast
  CHECK(l.snapshot("acme", seconds(30)).limit == 8);
  held_then_released(seconds(31), seconds(30), 0);  // no count: nothing learned
  CHECK(l.snapshot("acme", seconds(61)).limit == 8);
  held_then_released(seconds(62), seconds(2), 10);  // 200 ms a token: slow
  CHECK(l.snapshot("acme", seconds(64)).limit == 4);
  // A limit on the hold learns nothing from tokens: nobody is asked to count them.
  live_ledger by_hold(policies::plan::build("streams:solo", {{"streams", "8", "t"}, {"adaptive", "aimd", "t"}}),
                      {"acme"}, seconds(100), 0, 16, 42);
  admit_reply r;
  REQUIRE(by_hold.admit(ask("acme", 1), 0, r, out));
  CHECK_FALSE(r.count_tokens);
}

TEST_CASE("a reload keeps an adaptive limit as learned, cut to the new plan's range") {
  auto before = policies::plan::build(
      "streams:solo", {{"streams", "8", "t"}, {"adaptive", "aimd", "t"}, {"adaptive.target", "1", "t"},
                       {"adaptive.backoff", "0.5", "t"}});
  live_ledger l(before, {"acme"}, seconds(10), 0, 16, 42);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  REQUIRE(l.admit(ask("acme", 1), 0, r, out));
  REQUIRE(l.lease({"acme", r.lease, lease_op::release}, seconds(5), out).code == 200);  // 8 -> 4
  auto keep = policies::plan::build(
      "streams:solo", {{"streams", "6", "t"}, {"adaptive", "aimd", "t"}, {"adaptive.target", "2", "t"}});
  l.reload(keep, {"acme"}, seconds(6), out);
  CHECK(l.snapshot("acme", seconds(6)).limit == 4);
  auto lower = policies::plan::build(
      "streams:solo", {{"streams", "2", "t"}, {"adaptive", "aimd", "t"}, {"adaptive.min", "1", "t"}});
  l.reload(lower, {"acme"}, seconds(7), out);
  CHECK(l.snapshot("acme", seconds(7)).limit == 2);
}

namespace {

// acme's WebSocket frames: at most two connections (limit 1 x
// ws.per_concurrency 2) and one unit of product p.
std::shared_ptr<const policies::plan> two_connections() {
  return policies::plan::build("exclusive", {{"ws.per_concurrency", "2", "t"}});
}

admit_request ws_frame(std::uint64_t id, policies::kind what, std::uint64_t conn) {
  auto q = ask("acme", id);
  q.what = what;
  q.conn = conn;
  q.product = "p";
  q.holder_is_connection = true;
  return q;
}

// A renewal from the edge of a member whose socket holds `lease`.
lease_request ws_renewal(const std::string& lease, std::uint64_t conn, bool holds_connection) {
  lease_request q{"acme", lease, lease_op::renew};
  q.conn = conn;
  q.holds_connection = holds_connection;
  if (!holds_connection) q.product = "p";
  return q;
}

}  // namespace

TEST_CASE("a handoff moves the leases WebSocket connections hold: their slots and units count on the new owner") {
  // Two connections of at most two, one holding the product's one unit.
  auto p = two_connections();
  live_ledger giver(p, {"acme"}, seconds(10), 0, 16, 42);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto ws = ws_frame;
  std::vector<std::string> leases;
  for (auto [id, what, conn] : {std::tuple{1, policies::kind::ws_open, 7}, {2, policies::kind::ws_open, 8},
                                {3, policies::kind::ws_request, 7}}) {
    REQUIRE(giver.admit(ws(id, what, conn), 0, r, out));
    REQUIRE(r.code == 200);
    leases.push_back(r.lease);
  }
  auto moved = giver.hand_off(seconds(10), out);
  CHECK(giver.lease_count() == 0);
  REQUIRE(moved.leases.size() == 3);
  for (auto& m : moved.leases) CHECK(m.held_by_connection);

  live_ledger taker(p, {"acme"}, seconds(10), 0, 16, 43);
  taker.take_in(moved, seconds(500));
  CHECK(taker.lease_count() == 3);
  auto snap = taker.snapshot("acme", seconds(500));
  CHECK(snap.connections == 2);
  CHECK(snap.used_cost == 1);
  // Full on both counts: a third connection and a second unit are refused.
  CHECK_FALSE((taker.admit(ws(4, policies::kind::ws_open, 9), seconds(500), r, out) && r.code == 200));
  CHECK_FALSE((taker.admit(ws(5, policies::kind::ws_request, 8), seconds(500), r, out) && r.code == 200));
  // Released under their names there (no TTL ends them), they make room.
  CHECK(taker.lease({"acme", leases[2], lease_op::release}, seconds(501), out).code == 200);
  CHECK(taker.lease({"acme", leases[0], lease_op::release}, seconds(501), out).code == 200);
  CHECK(taker.lease_count() == 1);
  taker.advance(seconds(600), out);  // no TTL: still held
  CHECK(taker.lease_count() == 1);
  REQUIRE(taker.admit(ws(6, policies::kind::ws_open, 9), seconds(600), r, out));
  CHECK(r.code == 200);
}

TEST_CASE("a handoff's leases are all taken, even past what a lower limit of the taker would have granted") {
  // The giver applies a reload's limit of 4; the taker still its old limit
  // of 1 (it read the reload but has not switched yet). Every lease is held
  // by a client: none may be dropped (a renewal would then be 404, but a
  // holder between renewals goes on), and nothing more fits until they end.
  auto four = policies::plan::build("streams:solo", {{"limit", "4", "t"}, {"queue.max_depth", "0", "t"}});
  auto one = policies::plan::build("streams:solo", {{"limit", "1", "t"}, {"queue.max_depth", "0", "t"}});
  live_ledger giver(four, {"acme"}, seconds(10), 0, 16, 42);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  std::vector<std::string> leases;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(giver.admit(ask("acme", 1), 0, r, out));
    REQUIRE(r.code == 200);
    leases.push_back(r.lease);
  }
  auto moved = giver.hand_off(seconds(1), out);
  REQUIRE(moved.leases.size() == 4);
  live_ledger taker(one, {"acme"}, seconds(10), 0, 16, 43);
  taker.take_in(moved, seconds(1));
  CHECK(taker.lease_count() == 4);
  CHECK(taker.snapshot("acme", seconds(1)).used_cost == 4);
  for (auto& lease : leases) CHECK(taker.lease({"acme", lease, lease_op::renew}, seconds(2), out).code == 200);
  REQUIRE(taker.admit(ask("acme", 1), seconds(2), r, out));
  CHECK(r.code == 429);
  // Each keeps the TTL it had left: unrenewed, they end one TTL after the renewal.
  taker.advance(seconds(12) + 1, out);
  CHECK(taker.lease_count() == 0);
}

TEST_CASE("values a handoff brings are cut to what a member could send: none overflows or blocks for ever") {
  auto p = policies::plan::build("streams:solo", {{"requests_per_minute", "3", "t"},
                                                   {"sessions_per_minute", "2", "t"},
                                                   {"adaptive", "aimd", "t"}});
  constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
  constexpr auto highest = std::numeric_limits<std::int64_t>::max();
  handed_over moved;
  moved_account m;
  m.account = "acme";
  m.buckets = {moved_bucket{"", lowest, highest, lowest}};
  m.has_sessions = true;
  m.sessions_cap = lowest;
  m.sessions_opened = lowest;
  m.sessions_window_end_us = lowest;
  m.mean_hold_us = std::numeric_limits<double>::infinity();
  m.adaptive_limit = std::numeric_limits<double>::quiet_NaN();
  moved.accounts = {m};
  std::vector<live_ledger::answer> out;
  admit_reply r;
  {
    // Times from far in the past: an hour-old bucket is full, a day-old
    // window has rolled; the request is admitted at once.
    live_ledger l(p, {"acme"}, seconds(10), 0, 16, 42);
    l.take_in(moved, seconds(5));
    REQUIRE(l.admit(ask("acme", 1), seconds(5), r, out));
    CHECK(r.code == 200);
    CHECK(r.limit == 3);  // the NaN limit was not taken
  }
  {
    // A bucket emptied below zero just now: empty, not owed for ever.
    moved.accounts[0].buckets[0] = moved_bucket{"", lowest, 0, 0};
    moved.accounts[0].sessions_window_end_us = highest;
    live_ledger l(p, {"acme"}, seconds(10), 0, 16, 42);
    l.take_in(moved, seconds(5));
    REQUIRE(l.admit(ask("acme", 1), seconds(5), r, out));
    CHECK(r.code == 429);
    CHECK(r.why == policies::reason::request_rate);
    CHECK(r.retry_after_s == 20);  // one request of three a minute
  }
}


TEST_CASE("in a cluster the leases WebSocket connections hold have a TTL: renewed they stay, unrenewed they end") {
  live_ledger l(two_connections(), {"acme"}, seconds(10), 0, 16, 42);
  l.expire_connection_leases(true);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  std::vector<std::string> leases;
  for (auto [id, what, conn] : {std::tuple{1, policies::kind::ws_open, 7}, {2, policies::kind::ws_open, 8},
                                {3, policies::kind::ws_request, 7}}) {
    REQUIRE(l.admit(ws_frame(id, what, conn), 0, r, out));
    REQUIRE(r.code == 200);
    CHECK(r.lease_ttl_ms == 10'000);  // the edge renews what has one
    leases.push_back(r.lease);
  }
  // Connection 7 is renewed with its request; connection 8's member died.
  auto renewed = l.lease(ws_renewal(leases[0], 7, true), seconds(6), out);
  CHECK(renewed.code == 200);
  CHECK(renewed.ttl_ms == 10'000);
  CHECK(l.lease(ws_renewal(leases[2], 7, false), seconds(6), out).code == 200);
  l.advance(seconds(10), out);
  CHECK(l.lease_count() == 2);
  CHECK(l.snapshot("acme", seconds(10)).connections == 1);
  CHECK(l.metrics().accounts[0].leases_expired == 1);
  // The dead member's connection no longer counts: a new one fits, and the
  // cap holds.
  REQUIRE(l.admit(ws_frame(4, policies::kind::ws_open, 9), seconds(10), r, out));
  CHECK(r.code == 200);
  CHECK_FALSE((l.admit(ws_frame(5, policies::kind::ws_open, 10), seconds(10), r, out) && r.code == 200));
  l.advance(seconds(16), out);  // 7 and its request, last renewed at 6 s
  CHECK(l.lease_count() == 1);
  CHECK(l.snapshot("acme", seconds(16)).used_cost == 0);
  // A node alone keeps them without a TTL.
  live_ledger alone(two_connections(), {"acme"}, seconds(10), 0, 16, 42);
  REQUIRE(alone.admit(ws_frame(1, policies::kind::ws_open, 7), 0, r, out));
  CHECK(r.lease_ttl_ms == 0);
  alone.advance(seconds(100), out);
  CHECK(alone.lease_count() == 1);
}

TEST_CASE("a member recovering after a takeover adopts WebSocket leases from their renewals, the connection's slot included") {
  live_ledger l(two_connections(), {"acme"}, seconds(10), 0, 16, 43);
  l.expire_connection_leases(true);
  l.recover_until(seconds(10));
  std::vector<live_ledger::answer> out;
  CHECK(l.lease(ws_renewal("c7", 7, true), seconds(1), out).code == 200);
  CHECK(l.lease(ws_renewal("r7", 7, false), seconds(1), out).code == 200);
  CHECK(l.lease(ws_renewal("c8", 8, true), seconds(1), out).code == 200);
  auto snap = l.snapshot("acme", seconds(1));
  CHECK(snap.connections == 2);
  CHECK(snap.used_cost == 1);
  // Claims past the cap are adopted up to twice it (the connections exist).
  CHECK(l.lease(ws_renewal("c9", 9, true), seconds(1), out).code == 200);
  CHECK(l.lease(ws_renewal("c10", 10, true), seconds(1), out).code == 200);
  CHECK(l.lease(ws_renewal("c11", 11, true), seconds(1), out).code == 404);
  auto m = l.metrics().accounts[0];
  CHECK(m.adopted == 5);
  CHECK(m.adopted_over_limit == 2);
  // Recovered: no new connection while four are open of two.
  admit_reply r;
  for (std::uint64_t c : {9, 10}) {
    auto close = ws_renewal(c == 9 ? "c9" : "c10", c, true);
    close.op = lease_op::release;
    CHECK(l.lease(close, seconds(10), out).code == 200);
  }
  CHECK_FALSE((l.admit(ws_frame(1, policies::kind::ws_open, 12), seconds(10), r, out) && r.code == 200));
  // Adopted leases live by their renewals like the rest.
  CHECK(l.lease(ws_renewal("c7", 7, true), seconds(10), out).code == 200);
  l.advance(seconds(11), out);
  CHECK(l.lease_count() == 1);
  CHECK(l.snapshot("acme", seconds(11)).connections == 1);
  REQUIRE(l.admit(ws_frame(2, policies::kind::ws_open, 12), seconds(11), r, out));
  CHECK(r.code == 200);
}

TEST_CASE("a handoff in a cluster moves WebSocket leases with the TTL they have left") {
  live_ledger giver(two_connections(), {"acme"}, seconds(10), 0, 16, 42);
  giver.expire_connection_leases(true);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  REQUIRE(giver.admit(ws_frame(1, policies::kind::ws_open, 7), 0, r, out));
  REQUIRE(giver.admit(ws_frame(2, policies::kind::ws_request, 7), seconds(2), r, out));
  auto moved = giver.hand_off(seconds(4), out);
  REQUIRE(moved.leases.size() == 2);
  for (auto& m : moved.leases) CHECK(m.held_by_connection);
  live_ledger taker(two_connections(), {"acme"}, seconds(10), 0, 16, 43);
  taker.expire_connection_leases(true);
  taker.take_in(moved, seconds(500));
  CHECK(taker.snapshot("acme", seconds(500)).connections == 1);
  taker.advance(seconds(505), out);  // 6 s were left of the slot, 8 s of the request
  CHECK(taker.lease_count() == 2);
  taker.advance(seconds(506), out);
  CHECK(taker.lease_count() == 1);
  CHECK(taker.snapshot("acme", seconds(506)).connections == 0);
  taker.advance(seconds(508), out);
  CHECK(taker.lease_count() == 0);
}

TEST_CASE("a member that loses its majority lets no waiter in: its queue leaves with 503 at once") {
  // Found by usher cluster-sim: a member cut off kept its queue and let a
  // waiter into the slot an expiring lease freed, while the member taking
  // its accounts over knew nothing of that grant (over the limit).
  auto l = solo(seconds(10));
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto leases = fill_streams(l, out);
  CHECK_FALSE(l.admit(ask("acme", 4), seconds(1), r, out));                // queued
  CHECK(l.admit(ask("acme", 5, true), seconds(1), r, out));                // queued, a ticket
  REQUIRE(r.code == 202);
  auto ticket = r.ticket;
  CHECK(out.empty());
  l.hold_grants(policies::reason::no_majority, seconds(2), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].tag == 4);
  CHECK(out[0].reply.code == 503);
  CHECK(out[0].reply.why == policies::reason::no_majority);
  CHECK(out[0].reply.retry_after_s == 1);
  out.clear();
  // The ticket says so to whoever polls it.
  CHECK(l.poll({"acme", ticket}, 77, seconds(2), r, out));
  CHECK(r.code == 503);
  // A release and the TTL of the others free slots: nobody is let in.
  CHECK(l.lease({"acme", leases[0], lease_op::release}, seconds(3), out).code == 200);
  l.advance(seconds(11), out);
  CHECK(out.empty());
  CHECK(l.lease_count() == 0);
  // Once it may grant again, new requests are admitted as before.
  l.hold_grants(policies::reason::none, seconds(12), out);
  CHECK(l.admit(ask("acme", 6), seconds(12), r, out));
  CHECK(r.code == 200);
}

TEST_CASE("live: a waiting request's own priority decides who gets a model's freed capacity") {
  // Two accounts share a model's capacity of 1; each may ask for a level up
  // to 3. acme holds the unit, beta waits (asking for none: level 0), then
  // acme waits asking for 2 (and its extra one for 9, cut to 3).
  auto p = policies::plan::build("per-model", {{"model_capacity.m", "1", "t"},
                                               {"queue.max_depth", "5", "t"},
                                               {"priority.max", "3", "t"}});
  live_ledger l(p, {"acme", "beta"}, seconds(30), 0, 16, 42);
  std::vector<live_ledger::answer> out;
  admit_reply r;
  REQUIRE(l.admit(ask_model("acme", 1, "m"), 0, r, out));
  REQUIRE(r.code == 200);
  auto held = r.lease;
  CHECK_FALSE(l.admit(ask_model("beta", 2, "m"), seconds(1), r, out));
  auto urgent = ask_model("acme", 3, "m");
  urgent.priority = 2;
  CHECK_FALSE(l.admit(urgent, seconds(2), r, out));
  REQUIRE(out.empty());
  CHECK(l.lease(lease_request("acme", held, lease_op::release), seconds(3), out).code == 200);
  // The unit goes to acme's request of level 2, not to beta's older one.
  REQUIRE(out.size() == 1);
  CHECK(out[0].tag == 3);
  CHECK(out[0].reply.code == 200);
}
