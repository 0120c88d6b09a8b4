// Sim and live run one state machine (policies/ledger.hpp): a trace replayed
// by the simulator and the same trace played against the live node's
// admission actor, by holders that release their leases when their
// requests end, give the same outcomes row for row. Both run on CAF's
// virtual clock, so the comparison is exact and takes no wall-clock time.
//
// The live side is driven as a real client population would be: each row
// is an HTTP-like admission request at its arrival time; a holder releases
// its lease at the request's end (DELETE); a client whose own deadline
// passes while it waits disconnects (cancel). At one instant the driver
// keeps the simulator's order (releases, then clients leaving, then
// arrivals one by one, each taking effect before the next), which a live
// node sees whenever the events are apart in time.
//
// The node's own timer (its queue timeouts, 408) fires after the releases
// of its instant and before the clients that leave, as in the simulator: on
// the virtual clock the driver moves time without firing timers and fires
// them itself. A live node takes whichever comes first.
#include <catch2/catch.hpp>

#include <caf/all.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <map>
#include <set>
#include <variant>

#include "actors/admission_actor.hpp"
#include "support/random_trace.hpp"
#include "support/replay_harness.hpp"

using namespace usher;
using namespace usher::policies;
using usher::testing::chance;
using usher::testing::uniform_int;

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;

std::string account_name(id a) { return "acct" + std::to_string(a); }

// Several accounts, arrivals and durations on a quarter-second grid (ties
// at one instant are common), some failures, some clients with deadlines.
std::vector<arrival> grid_trace(const plan& p, std::uint64_t seed, bool costs) {
  std::mt19937_64 rng(seed);
  std::vector<arrival> rows;
  usec t = 0;
  for (std::uint64_t i = 0; i < 600; ++i) {
    t += uniform_int(rng, 0, 2) * 250'000;
    arrival a;
    a.req.seq = i;
    a.req.account = static_cast<id>(uniform_int(rng, 0, 2));
    a.profile = p.profile_of(account_name(a.req.account));
    a.req.cost = p.cost_of(a.profile, no_id, costs ? uniform_int(rng, 1, 3) : -1);
    a.at = t;
    a.duration = uniform_int(rng, 0, 24) * 250'000;
    a.fail = chance(rng, 0.05);
    if (chance(rng, 0.3)) a.deadline = t + uniform_int(rng, 1, 24) * 250'000;
    rows.push_back(a);
  }
  return rows;
}

// The holders and clients of the live side, and what they saw.
struct population {
  using action = std::variant<actors::admit_request, actors::lease_request, actors::cancel_request>;
  const std::vector<arrival>* rows = nullptr;
  std::vector<action> outbox;
  std::set<std::tuple<usec, std::uint64_t, std::string>> releases;  ///< (end, seq, lease)
  std::set<std::pair<usec, std::uint64_t>> deadlines;               ///< (deadline, seq)
  std::map<std::uint64_t, outcome> decided;                         ///< by seq
  std::vector<std::string> errors;

  // A request's answer, as its client reads it.
  void answered(std::uint64_t seq, const actors::admit_reply& r) {
    const auto& a = (*rows)[seq];
    outcome o;
    o.seq = seq;
    o.wait = r.waited_us;
    switch (r.code) {
      case 200: {
        o.start = a.at + r.waited_us;
        o.end = o.start + a.duration;
        o.code = a.fail ? status::failed : status::ok;
        o.why = a.fail ? reason::failed : reason::none;
        if (o.end > a.deadline) {  // the client stops reading at its deadline
          o.end = std::max(o.start, a.deadline);
          o.code = status::client_closed;
          o.why = reason::client_timeout;
        }
        releases.emplace(o.end, seq, r.lease);
        break;
      }
      default:
        o.code = static_cast<status>(r.code);
        o.why = r.why;
    }
    if (!decided.emplace(seq, o).second) errors.push_back("two answers for row " + std::to_string(seq));
  }
};

caf::behavior population_actor(caf::event_based_actor* self, population* pop,
                               actors::admission_actor node) {
  return {
      [=](go_atom) {
        for (auto& act : pop->outbox) {
          if (auto* req = std::get_if<actors::admit_request>(&act)) {
            auto seq = req->request_id;
            self->request(node, caf::infinite, *req)
                .then([=](const actors::admit_reply& r) { pop->answered(seq, r); });
          } else if (auto* rel = std::get_if<actors::lease_request>(&act)) {
            auto lease = rel->lease;
            self->request(node, caf::infinite, *rel).then([=](const actors::lease_reply& r) {
              if (r.code != 200) pop->errors.push_back("release of " + lease + " got " + std::to_string(r.code));
            });
          } else {
            self->send(node, std::get<actors::cancel_request>(act));
          }
        }
        pop->outbox.clear();
      },
  };
}

// Plays `rows` against one admission actor on the virtual clock.
std::vector<outcome> play_live(std::shared_ptr<const plan> p, const std::vector<arrival>& rows) {
  caf::actor_system_config cfg;
  actors::add_message_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto& clk = sched.clock();
  auto epoch = clk.now();
  actors::admission_actor_config node_cfg;
  node_cfg.plan = p;
  for (id a = 0; a < 3; ++a) node_cfg.accounts.push_back(account_name(a));
  node_cfg.lease_ttl = seconds(24 * 3600);  // holders always release: no TTL runs out
  node_cfg.epoch = epoch;
  auto node = actors::spawn_admission_actor(sys, node_cfg);
  population pop;
  pop.rows = &rows;
  auto clients = sys.spawn(population_actor, &pop, node);
  auto now = [&] {
    return std::chrono::duration_cast<std::chrono::microseconds>(clk.now() - epoch).count();
  };
  std::size_t next = 0;
  for (;;) {
    sched.run();
    usec t_release = pop.releases.empty() ? never : std::get<0>(*pop.releases.begin());
    usec t_leave = pop.deadlines.empty() ? never : pop.deadlines.begin()->first;
    usec t_row = next < rows.size() ? rows[next].at : never;
    usec t = std::min({t_release, t_leave, t_row});
    usec t_timer = clk.has_pending_timeout()
                       ? std::chrono::duration_cast<std::chrono::microseconds>(
                             clk.schedule().begin()->first - epoch).count()
                       : never;
    t = std::min(t, t_timer);
    if (t == never) break;
    // Time moves to t without firing the node's timers: they fire below,
    // after the releases at t, where the simulator's order puts them.
    if (t > now()) clk.current_time = epoch + std::chrono::microseconds(t);
    if (t_release == t) {
      // Every holder whose request ends now releases (by sequence).
      while (!pop.releases.empty() && std::get<0>(*pop.releases.begin()) == t) {
        auto [end, seq, lease] = *pop.releases.begin();
        pop.releases.erase(pop.releases.begin());
        pop.outbox.push_back(actors::lease_request(account_name(rows[seq].req.account), lease,
                                                   actors::lease_op::release));
      }
    } else if (t_timer == t) {
      clk.trigger_timeout();  // the node's own deadline: its queue timeouts (408)
      continue;
    } else if (t_leave == t) {
      // Clients still waiting at their deadline disconnect.
      while (!pop.deadlines.empty() && pop.deadlines.begin()->first == t) {
        auto seq = pop.deadlines.begin()->second;
        pop.deadlines.erase(pop.deadlines.begin());
        if (!pop.decided.count(seq))
          pop.outbox.push_back(actors::cancel_request{account_name(rows[seq].req.account), seq});
      }
    } else {
      const auto& a = rows[next++];
      actors::admit_request req;
      req.account = account_name(a.req.account);
      req.request_id = a.req.seq;
      req.cost = a.req.cost;
      req.what = a.req.what;
      pop.outbox.push_back(req);
      if (a.deadline != never) pop.deadlines.emplace(a.deadline, a.req.seq);
    }
    caf::anon_send(clients, go_atom::value);
  }
  INFO((pop.errors.empty() ? std::string() : pop.errors.front()));
  CHECK(pop.errors.empty());
  caf::anon_send_exit(clients, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  sched.run();
  std::vector<outcome> out;
  for (auto& [seq, o] : pop.decided) out.push_back(o);
  return out;
}

}  // namespace

TEST_CASE("the live admission actor on the virtual clock decides a trace exactly as the simulator") {
  struct variant {
    const char* name;
    std::shared_ptr<const plan> p;
    bool costs;
  };
  std::vector<variant> variants = {
      {"streams with a queue", plan::build("streams:solo", {{"queue.max_depth", "3", "t"},
                                                            {"queue.max_wait", "3", "t"}}),
       false},
      {"weighted costs", plan::build("weighted", {{"limit", "4", "t"}, {"queue.max_depth", "4", "t"},
                                                  {"queue.max_wait", "3.3", "t"}}),
       true},
  };
  for (auto& v : variants) {
    for (std::uint64_t seed : {11, 12}) {
      INFO(v.name << ", seed " << seed);
      auto rows = grid_trace(*v.p, seed, v.costs);
      auto sim = usher::testing::replay(v.p, rows);
      REQUIRE(sim.result.ok);
      auto live = play_live(v.p, rows);
      REQUIRE(live.size() == sim.outcomes.size());
      std::map<status, int> seen;
      for (std::size_t i = 0; i < live.size(); ++i) {
        const auto& s = sim.outcomes[i];
        const auto& l = live[i];
        INFO("row " << s.seq << " at " << s.at);
        REQUIRE(l.seq == s.seq);
        CHECK(int(l.code) == int(s.code));
        CHECK(int(l.why) == int(s.why));
        CHECK(l.wait == s.wait);
        if (s.start >= 0) {
          CHECK(l.start == s.start);
          CHECK(l.end == s.end);
        }
        ++seen[s.code];
      }
      // The trace reaches every path it claims to.
      CHECK(seen[status::ok] > 50);
      CHECK(seen[status::rejected] > 5);
      CHECK(seen[status::timeout] > 5);
      CHECK(seen[status::client_closed] > 5);
      CHECK(seen[status::failed] > 0);
    }
  }
}
