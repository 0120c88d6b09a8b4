// The live node's state without CAF or a clock: time moves only when the
// test moves it. Leases, their TTL, waiters that leave, tickets, and that
// every held request is answered exactly once (issue #5).
#include "actors/detail/live_ledger.hpp"

#include <catch2/catch.hpp>

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
  CHECK(l.test_lease_count() == 3);
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
  CHECK(l.test_lease_count() == 2);
  CHECK(l.metrics().accounts[0].leases_expired == 2);
  l.advance(seconds(3), out);  // the renewed one expires at 3 s
  CHECK(l.test_lease_count() == 1);
}

TEST_CASE("an async request that queues gets a ticket that reports its outcome") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  std::string first;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    REQUIRE(l.admit(ask("acme", i), 0, r, out));
    if (i == 1) first = r.lease;
  }
  REQUIRE(l.admit(ask("acme", 4, true), 0, r, out));
  REQUIRE(r.code == 202);
  auto ticket = r.ticket;
  CHECK_FALSE(l.poll({"acme", ticket}, 1000, r, out));
  CHECK(l.poll({"beta", ticket}, 1001, r, out));  // another account: 404
  CHECK(r.code == 404);
  CHECK(l.lease({"acme", first, lease_op::release}, seconds(1), out).code == 200);
  REQUIRE(out.size() == 1);
  CHECK(out[0].tag == 1000);
  CHECK(out[0].reply.code == 200);
  CHECK(l.poll({"acme", ticket}, 1002, r, out));  // decided: answered at once
  CHECK(r.lease == out[0].reply.lease);
}

TEST_CASE("a ticket given up leaves the queue once, and a granted one gives its lease back") {
  auto l = solo();
  std::vector<live_ledger::answer> out;
  admit_reply r;
  auto leases = fill_streams(l, out);
  REQUIRE(l.admit(ask("acme", 4, true), 0, r, out));
  auto queued = r.ticket;
  CHECK_FALSE(l.poll({"acme", queued}, 1000, r, out));
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
  CHECK(l.test_lease_count() == 2);

  // A ticket decided with a lease nobody collected: giving it up releases it.
  REQUIRE(l.admit(ask("acme", 5), seconds(3), r, out));  // the freed stream
  REQUIRE(l.admit(ask("acme", 6, true), seconds(3), r, out));
  auto granted = r.ticket;
  CHECK(l.lease({"acme", leases[1], lease_op::release}, seconds(4), out).code == 200);
  CHECK(l.test_lease_count() == 3);  // the ticket's lease holds the stream
  CHECK(l.cancel_ticket({"acme", granted}, seconds(5), out).code == 200);
  CHECK(l.test_lease_count() == 2);
  CHECK(l.poll({"acme", granted}, 1001, r, out));
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
  CHECK_FALSE(l.poll({"acme", r.ticket}, 99, r, out));
  l.drain(out);
  REQUIRE(out.size() == 2);
  for (auto& a : out) CHECK(a.reply.code == 503);
}
