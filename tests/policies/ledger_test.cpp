// The one account state machine both drivers run (policies/ledger.hpp): the
// per-instant loop with time moved by hand, and an account's whole state
// copied to another ledger, which then decides exactly as the original.
#include <catch2/catch.hpp>

#include <sstream>

#include "policies/ledger.hpp"
#include "policies/records.hpp"
#include "support/random_trace.hpp"

using namespace usher::policies;
using usher::testing::chance;
using usher::testing::uniform_int;

namespace {

std::shared_ptr<const plan> streams_plan() {
  return plan::build("streams:solo", {{"queue.max_depth", "2", "t"}, {"queue.max_wait", "5", "t"}});
}

request ask(std::uint64_t seq, id account = 0, std::int64_t cost = 1) {
  request r;
  r.seq = seq;
  r.account = account;
  r.cost = cost;
  return r;
}

ledger::terms lasting(std::uint64_t tag, usec hold, usec gives_up_at = never) {
  ledger::terms t;
  t.tag = tag;
  t.hold = hold;
  t.gives_up_at = gives_up_at;
  return t;
}

// Runs rows through a ledger in the same-instant order (what is due, then
// arrivals by sequence) and writes what it decided, one line per decision or
// event, naming requests by tag only: two ledgers that decide alike write
// the same lines whatever their handles.
struct script {
  ledger& l;
  std::ostringstream log;
  std::vector<ledger::event> events;

  void run(const std::vector<arrival>& rows, std::size_t& next, usec until) {
    for (;;) {
      usec t_due = l.next_deadline();
      usec t_row = next < rows.size() ? rows[next].at : never;
      usec t = std::min(t_due, t_row);
      if (t >= until || t == never) return;
      if (t_due <= t) {
        events.clear();
        l.advance(t, events);
        for (auto& e : events)
          log << t << " event " << int(e.what) << " tag " << e.tag << " ends " << e.held.ends
              << " cut " << e.held.cut << "\n";
        continue;
      }
      const auto& a = rows[next++];
      auto d = l.arrive(a.req, a.profile, t, lasting(a.req.seq, a.duration, a.deadline));
      log << t << " arrive " << a.req.seq << " -> " << int(d.what) << " " << int(d.code) << " "
          << int(d.why) << " retry " << d.retry_after_s;
      if (d.lease != ledger::no_handle) log << " ends " << l.find(d.lease)->ends;
      log << "\n";
    }
  }
};

// A busy account: bursts that queue, time out, give up and get cut short.
std::vector<arrival> busy_rows(const plan& p, std::uint64_t seed, kind what, bool costs) {
  std::mt19937_64 rng(seed);
  std::vector<arrival> rows;
  usec t = 0;
  for (std::uint64_t i = 0; i < 400; ++i) {
    t += uniform_int(rng, 0, 3) * 250'000;  // ties at one instant are common
    arrival a;
    a.req = ask(i, 0, costs ? uniform_int(rng, 1, 3) : -1);
    a.req.what = what;
    a.req.cost = p.cost_of(0, no_id, a.req.cost);
    a.at = t;
    a.duration = uniform_int(rng, 0, 12) * 500'000;
    if (chance(rng, 0.3)) a.deadline = t + uniform_int(rng, 1, 8) * 500'000;
    rows.push_back(a);
  }
  return rows;
}

}  // namespace

TEST_CASE("ledger: a lease ends after its hold and the queue head takes its slot at that instant") {
  ledger l(streams_plan());
  std::vector<ledger::event> ev;
  for (std::uint64_t i = 0; i < 3; ++i)
    REQUIRE(l.arrive(ask(i), 0, 0, lasting(i, seconds(2))).what == engine::verdict::admitted);
  auto d = l.arrive(ask(3), 0, seconds(1), lasting(3, seconds(4)));
  REQUIRE(d.what == engine::verdict::queued);
  CHECK(l.waiting_since(d.waiter) == seconds(1));
  CHECK(l.next_deadline() == seconds(2));
  l.advance(seconds(2), ev);
  // Three ends, then the waiter's admission, all at 2 s.
  REQUIRE(ev.size() == 4);
  for (int i = 0; i < 3; ++i) CHECK(ev[i].what == ledger::event::kind::ended);
  CHECK(ev[3].what == ledger::event::kind::admitted);
  CHECK(ev[3].tag == 3);
  CHECK(ev[3].arrival == seconds(1));
  CHECK(ev[3].held.start == seconds(2));
  CHECK(ev[3].held.ends == seconds(6));
  CHECK_FALSE(l.waiting_since(d.waiter));
  CHECK(l.usage_of(0).in_flight == 1);
}

TEST_CASE("ledger: a client's deadline takes its waiter out of the queue and cuts its grant short") {
  ledger l(streams_plan());
  std::vector<ledger::event> ev;
  for (std::uint64_t i = 0; i < 3; ++i)
    REQUIRE(l.arrive(ask(i), 0, 0, lasting(i, seconds(3))).what == engine::verdict::admitted);
  // Gives up at 1 s, before the server's 5 s: a 499 event at 1 s.
  auto left = l.arrive(ask(3), 0, 0, lasting(3, seconds(10), seconds(1)));
  // Gives up at 4 s: admitted at 3 s, its 10 s hold cut to end at 4 s.
  auto cut = l.arrive(ask(4), 0, 0, lasting(4, seconds(10), seconds(4)));
  REQUIRE(left.what == engine::verdict::queued);
  REQUIRE(cut.what == engine::verdict::queued);
  CHECK(l.next_deadline() == seconds(1));
  l.advance(seconds(1), ev);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].what == ledger::event::kind::gave_up);
  CHECK(ev[0].tag == 3);
  ev.clear();
  l.advance(seconds(3), ev);
  REQUIRE(ev.size() == 4);
  CHECK(ev[3].what == ledger::event::kind::admitted);
  CHECK(ev[3].held.cut);
  CHECK(ev[3].held.ends == seconds(4));
  // A cancel of a waiter already admitted does nothing.
  CHECK_FALSE(l.cancel(cut.waiter));
}

TEST_CASE("ledger: a released or renewed lease leaves no stale end behind") {
  ledger l(streams_plan());
  std::vector<ledger::event> ev;
  auto a = l.arrive(ask(0), 0, 0, lasting(0, seconds(10)));
  auto b = l.arrive(ask(1), 0, 0, lasting(1, seconds(10)));
  CHECK(l.release(a.lease, seconds(1)));
  CHECK_FALSE(l.release(a.lease, seconds(1)));  // a stale handle
  CHECK_FALSE(l.renew(a.lease, seconds(50)));
  CHECK(l.renew(b.lease, seconds(30)));
  // The old end of b (10 s) and a's end are gone: the next is b's new one.
  CHECK(l.next_deadline() == seconds(30));
  l.advance(seconds(29), ev);
  CHECK(ev.empty());
  l.advance(seconds(30), ev);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].tag == 1);
  CHECK(l.lease_count() == 0);
  // A slot reused by a new lease is not reached by the old handle.
  auto c = l.arrive(ask(2), 0, seconds(30), lasting(2, seconds(1)));
  CHECK(l.find(c.lease) != nullptr);
  CHECK(l.find(a.lease) == nullptr);
  CHECK(l.find(b.lease) == nullptr);
}

TEST_CASE("ledger: Retry-After comes from the queue and the mean hold, 0 when a request never fits") {
  auto p = plan::build("streams:solo", {{"queue.max_depth", "1", "t"}});
  ledger l(p);
  std::vector<ledger::event> ev;
  for (std::uint64_t i = 0; i < 3; ++i) (void)l.arrive(ask(i), 0, 0, lasting(i, seconds(4)));
  l.advance(seconds(4), ev);  // three holds of 4 s: the mean hold is 4 s
  for (std::uint64_t i = 3; i < 7; ++i) (void)l.arrive(ask(i), 0, seconds(4), lasting(i, seconds(4)));
  // 3 in flight, 1 queued: (1 + 1) x 4 s / 3 = 2.67 s -> 3 s.
  auto refused = l.arrive(ask(7), 0, seconds(4), lasting(7, seconds(4)));
  CHECK(refused.code == status::rejected);
  CHECK(refused.why == reason::queue_full);
  CHECK(refused.retry_after_s == 3);
  auto huge = l.arrive(ask(8, 0, 99), 0, seconds(4), lasting(8, seconds(4)));
  CHECK(huge.code == status::rejected);
  CHECK(huge.retry_after_s == 0);
}

TEST_CASE("ledger: an account copied mid-run to another ledger decides exactly as the original") {
  struct variant {
    const char* name;
    std::shared_ptr<const plan> p;
    kind what;
    bool costs;
  };
  std::vector<variant> variants = {
      {"streams, queue and deadlines", streams_plan(), kind::request, false},
      {"weighted costs", plan::build("weighted", {{"queue.max_depth", "3", "t"}}), kind::request, true},
      {"session rate", plan::build("session-rate", {{"sessions_per_minute", "20", "t"}}),
       kind::session, false},
  };
  for (auto& v : variants) {
    for (std::uint64_t seed : {1, 2, 3}) {
      for (usec cut_at : {seconds(20), seconds(41) + 250'000, seconds(70)}) {
        INFO(v.name << ", seed " << seed << ", copied at " << cut_at);
        auto rows = busy_rows(*v.p, seed, v.what, v.costs);
        ledger original(v.p);
        script first{original, {}, {}};
        std::size_t next = 0;
        first.run(rows, next, cut_at);
        // Copy the account at cut_at, then go on with both.
        auto image = original.export_account(0, 0);
        ledger copy(v.p);
        std::vector<ledger::handle> leases, waiters;
        copy.import_account(image, leases, waiters);
        CHECK(leases.size() == image.leases.size());
        CHECK(waiters.size() == image.queue.size());
        CHECK(copy.usage_of(0).used == original.usage_of(0).used);
        CHECK(copy.usage_of(0).queued == original.usage_of(0).queued);
        CHECK(copy.next_deadline() == original.next_deadline());
        // The copy's own image is the same: nothing was lost on the way.
        auto twice = copy.export_account(0, 0);
        REQUIRE(twice.leases.size() == image.leases.size());
        for (std::size_t i = 0; i < image.leases.size(); ++i) {
          CHECK(twice.leases[i].req.seq == image.leases[i].req.seq);
          CHECK(twice.leases[i].start == image.leases[i].start);
          CHECK(twice.leases[i].ends == image.leases[i].ends);
        }
        REQUIRE(twice.queue.size() == image.queue.size());
        for (std::size_t i = 0; i < image.queue.size(); ++i)
          CHECK(twice.queue[i].req.seq == image.queue[i].req.seq);
        CHECK(twice.sessions.opened == image.sessions.opened);
        CHECK(twice.mean_hold_us == image.mean_hold_us);
        std::size_t next_copy = next;
        script a{original, {}, {}};
        script b{copy, {}, {}};
        a.run(rows, next, never);
        b.run(rows, next_copy, never);
        CHECK(a.log.str().size() > 1000);  // the rest of the run did something
        CHECK(a.log.str() == b.log.str());
      }
    }
  }
}

TEST_CASE("ledger: exporting every account at once gives each the image exporting it alone gives") {
  // Three accounts, leases and waiters interleaved across them in the slots.
  ledger l(streams_plan());
  std::uint64_t seq = 0;
  for (int round = 0; round < 4; ++round)
    for (id a : {2u, 0u, 1u}) {
      ++seq;
      (void)l.arrive(ask(seq, a), 0, seconds(round), lasting(seq, seconds(30)));
    }
  std::vector<std::vector<ledger::handle>> leases, waiters;
  auto all = l.export_accounts({0, 0, 0, 0}, leases, waiters);
  REQUIRE(all.size() == 4);
  for (id a = 0; a < 4; ++a) {
    std::vector<ledger::handle> one_leases, one_waiters;
    auto one = l.export_account(a, 0, one_leases, one_waiters);
    CHECK(all[a].account == a);
    CHECK(leases[a] == one_leases);
    CHECK(waiters[a] == one_waiters);
    REQUIRE(all[a].leases.size() == one.leases.size());
    for (std::size_t i = 0; i < one.leases.size(); ++i) {
      CHECK(all[a].leases[i].req.seq == one.leases[i].req.seq);
      CHECK(all[a].leases[i].start == one.leases[i].start);
      CHECK(all[a].leases[i].ends == one.leases[i].ends);
    }
    REQUIRE(all[a].queue.size() == one.queue.size());
    for (std::size_t i = 0; i < one.queue.size(); ++i) CHECK(all[a].queue[i].req.seq == one.queue[i].req.seq);
  }
  // streams:solo holds 3 at once and queues 2: each real account has both.
  for (id a = 0; a < 3; ++a) {
    CHECK(all[a].leases.size() == 3);
    CHECK(all[a].queue.size() == 1);
  }
  CHECK(all[3].leases.empty());
}
