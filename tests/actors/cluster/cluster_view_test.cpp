// The cluster protocol (actors/cluster/cluster_view.hpp) under a simulated
// network and clock: several views wired together, beats and handoffs
// delivered after random delays (in order between two members, as over one
// TCP connection), with crashes, restarts, pauses (SIGSTOP) and partitions.
// The safety property is checked after every event: at no instant may two
// running members both hold one account group while both may grant
// (holds(g) and valid_until() > now). Liveness: once faults stop, every
// group ends up with exactly one member that holds it and may grant.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <sstream>

#include "actors/cluster/cluster_view.hpp"
#include "actors/cluster/placement.hpp"

using usher::actors::cluster::beat;
using usher::actors::cluster::cluster_view;
using usher::actors::cluster::handoff_id;
using usher::actors::cluster::member_state;
using usher::policies::usec;
using kind = cluster_view::action::kind;

namespace {

constexpr usec ms = 1000;

class sim_cluster {
 public:
  sim_cluster(std::size_t members, std::size_t groups, std::uint64_t seed, usec heartbeat = 100 * ms,
              usec failure_timeout = 400 * ms)
      : rng_(seed), nodes_(members), side_(members, 0) {
    for (std::size_t m = 0; m < members; ++m) base_.names.push_back(std::string(1, char('a' + m)));
    for (std::size_t g = 0; g < groups; ++g) base_.groups.push_back("account:acct-" + std::to_string(g));
    base_.heartbeat = heartbeat;
    base_.failure_timeout = failure_timeout;
    base_.digest = "d";
    for (std::uint32_t m = 0; m < members; ++m) start(m);
  }

  usec delay_min = 1 * ms;
  usec delay_max = 5 * ms;

  void run_until(usec until) {
    for (;;) {
      usec next = until + 1;
      int beat_of = -1;
      for (std::uint32_t m = 0; m < nodes_.size(); ++m)
        if (running(m) && nodes_[m].next_beat < next) {
          next = nodes_[m].next_beat;
          beat_of = static_cast<int>(m);
        }
      bool deliver = !wire_.empty() && wire_.top().at <= next && wire_.top().at <= until;
      if (!deliver && beat_of < 0) break;
      if (deliver) {
        auto msg = wire_.top();
        wire_.pop();
        now_ = std::max(now_, msg.at);
        arrive(msg);
      } else {
        now_ = std::max(now_, next);  // a member resumed after a pause beats at once
        tick(static_cast<std::uint32_t>(beat_of));
      }
      check_safety();
    }
    now_ = std::max(now_, until);
  }

  void crash(std::uint32_t m) {
    trace("crash", m);
    nodes_[m].alive = false;
    nodes_[m].view.reset();
  }
  /// `digest`: the limits it starts with ("": the others' first ones).
  void restart(std::uint32_t m, const std::string& digest = "") {
    trace("restart", m);
    start(m, digest);
  }
  /// Drains: says so in a beat at once, as the cluster actor does.
  void leave(std::uint32_t m) {
    trace("leave", m);
    nodes_[m].view->leave();
    tick(m);
  }
  void pause(std::uint32_t m) {
    trace("pause", m);
    nodes_[m].paused = true;
  }
  void resume(std::uint32_t m) {
    trace("resume", m);
    nodes_[m].paused = false;
    // What came while it was stopped waits in its socket: delivered now.
    for (auto& held : nodes_[m].inbox) wire_.push(held.with_at(now_));
    nodes_[m].inbox.clear();
    nodes_[m].next_beat = std::min(nodes_[m].next_beat, now_);
  }
  /// Members on different sides hear nothing from each other.
  void partition(const std::vector<int>& side) {
    side_ = side;
    if (std::getenv("USHER_SIM_TRACE")) {
      std::fprintf(stderr, "%lld partition", (long long)now_);
      for (auto x : side) std::fprintf(stderr, " %d", x);
      std::fprintf(stderr, "\n");
    }
  }
  void trace(const char* what, std::uint32_t m) const {
    if (std::getenv("USHER_SIM_TRACE")) std::fprintf(stderr, "%lld %s %c\n", (long long)now_, what, 'a' + m);
  }
  void heal() { std::fill(side_.begin(), side_.end(), 0); }

  usec now() const { return now_; }
  bool running(std::uint32_t m) const { return nodes_[m].alive && !nodes_[m].paused; }
  cluster_view& view(std::uint32_t m) { return *nodes_[m].view; }

  /// The running members that hold `g` and may grant now.
  std::vector<std::uint32_t> granting(std::uint32_t g) const {
    std::vector<std::uint32_t> out;
    for (std::uint32_t m = 0; m < nodes_.size(); ++m)
      if (running(m) && nodes_[m].view->holds(g) && nodes_[m].view->valid_until() > now_)
        out.push_back(m);
    return out;
  }
  std::size_t groups() const { return base_.groups.size(); }
  std::size_t members() const { return nodes_.size(); }
  /// Actions taken, by kind, over the whole run.
  std::map<kind, int> actions;
  /// Set by check_safety() at the first instant two members could grant for one group.
  std::string violation;

 private:
  struct message {
    usec at = 0;
    std::uint64_t order = 0;
    std::uint32_t from = 0, to = 0;
    bool is_beat = true;
    beat b;
    std::uint32_t group = 0;
    std::uint64_t gen = 0, to_gen = 0;
    handoff_id id;
    message with_at(usec t) const {
      auto m = *this;
      m.at = t;
      return m;
    }
    bool operator>(const message& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  struct node {
    std::unique_ptr<cluster_view> view;
    bool alive = false;
    bool paused = false;
    usec next_beat = 0;
    std::vector<message> inbox;  ///< held while paused
    std::map<std::uint32_t, message> handing;  ///< handoffs sent, by group (as cluster_node keeps them)
  };

  void start(std::uint32_t m, const std::string& digest = "") {
    auto s = base_;
    s.self = m;
    if (!digest.empty()) s.digest = digest;
    nodes_[m].view = std::make_unique<cluster_view>(s, rng_(), now_);
    nodes_[m].alive = true;
    nodes_[m].paused = false;
    nodes_[m].inbox.clear();
    nodes_[m].handing.clear();
    nodes_[m].next_beat = now_;
  }

  void send(message msg) {
    if (side_[msg.from] != side_[msg.to]) return;  // cut off
    std::uniform_int_distribution<usec> d(delay_min, delay_max);
    auto& last = last_at_[{msg.from, msg.to}];
    msg.at = std::max(now_ + d(rng_), last);  // in order, as over one connection
    last = msg.at;
    msg.order = ++order_;
    wire_.push(std::move(msg));
  }

  void arrive(const message& msg) {
    auto& n = nodes_[msg.to];
    if (!n.alive || side_[msg.from] != side_[msg.to]) return;
    if (n.paused) {
      n.inbox.push_back(msg);
      return;
    }
    if (msg.is_beat) {
      n.view->receive(msg.b, now_);
    } else if (n.view->accept_handoff(msg.group, msg.from, msg.gen, msg.to_gen, msg.id) ==
               cluster_view::handoff_answer::refused) {
      ++refused_handoffs_;
    }
    act(msg.to);
  }

  void tick(std::uint32_t m) {
    act(m);
    // Handoffs not listed by their receiver yet are sent again, as cluster_node does.
    std::vector<std::uint32_t> due;
    nodes_[m].view->handoffs_due(now_, due);
    for (auto g : due)
      if (auto i = nodes_[m].handing.find(g); i != nodes_[m].handing.end()) send(i->second);
    auto b = nodes_[m].view->next_beat(now_);
    for (std::uint32_t q = 0; q < nodes_.size(); ++q)
      if (q != m) {
        message msg;
        msg.from = m;
        msg.to = q;
        msg.b = b;
        send(std::move(msg));
      }
    nodes_[m].next_beat = now_ + base_.heartbeat;
  }

  void act(std::uint32_t m) {
    std::vector<cluster_view::action> out;
    auto& v = *nodes_[m].view;
    v.decide(now_, out);
    for (auto& a : out) {
      if (std::getenv("USHER_SIM_TRACE"))
        std::fprintf(stderr, "%lld %c gen %llu: action %d group %u to %u (%zu)\n", (long long)now_,
                     'a' + m, (unsigned long long)v.generation(), int(a.what), a.group, a.to,
                     a.groups.size());
      ++actions[a.what];
      if (a.what != kind::hand_off) continue;
      message msg;
      msg.from = m;
      msg.to = a.to;
      msg.is_beat = false;
      msg.group = a.group;
      msg.gen = v.generation();
      msg.to_gen = a.to_gen;
      msg.id = a.id;
      nodes_[m].handing[a.group] = msg;
      send(std::move(msg));
    }
  }

  void check_safety() {
    if (!violation.empty()) return;
    for (std::uint32_t g = 0; g < base_.groups.size(); ++g) {
      auto who = granting(g);
      if (who.size() > 1) {
        std::ostringstream o;
        o << "at " << now_ << " us group " << g << " has " << who.size() << " granting holders:";
        for (auto m : who)
          o << " " << char('a' + m) << " (generation " << nodes_[m].view->generation()
            << ", valid until " << nodes_[m].view->valid_until() << ")";
        violation = o.str();
      }
    }
  }

  cluster_view::settings base_;
  std::mt19937_64 rng_;
  std::vector<node> nodes_;
  std::vector<int> side_;
  std::priority_queue<message, std::vector<message>, std::greater<message>> wire_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, usec> last_at_;
  std::uint64_t order_ = 0;
  usec now_ = 0;
  int refused_handoffs_ = 0;
};

// What each member holds and whether it may grant (for a failure's message).
std::string describe(sim_cluster& c) {
  std::ostringstream o;
  for (std::uint32_t m = 0; m < c.members(); ++m) {
    o << char('a' + m) << ": ";
    if (!c.running(m)) {
      o << "not running\n";
      continue;
    }
    auto& v = c.view(m);
    o << "generation " << v.generation() << (v.valid_until() > c.now() ? ", valid" : ", not valid")
      << ", holds";
    for (std::uint32_t g = 0; g < c.groups(); ++g)
      if (v.holds(g)) o << " " << g;
    o << "; owners";
    for (std::uint32_t g = 0; g < c.groups(); ++g) {
      auto w = v.owner(g);
      o << " " << (w ? char('a' + *w) : '-');
    }
    o << "; sees";
    for (std::uint32_t q = 0; q < c.members(); ++q) o << " " << to_string(v.state_of(q, c.now()));
    o << "\n";
  }
  return o.str();
}

// Every group has exactly one member that holds it and may grant.
bool settled(const sim_cluster& c) {
  for (std::uint32_t g = 0; g < c.groups(); ++g)
    if (c.granting(g).size() != 1) return false;
  return true;
}

std::uint32_t holder(const sim_cluster& c, std::uint32_t g) { return c.granting(g).at(0); }

}  // namespace

TEST_CASE("a cluster forms: every group has one holder, its placement owner, and none recovers") {
  sim_cluster c(3, 30, 1);
  c.run_until(2'000 * ms);
  REQUIRE(c.violation.empty());
  REQUIRE(settled(c));
  std::vector<std::string> all = {"a", "b", "c"};
  for (std::uint32_t g = 0; g < c.groups(); ++g)
    CHECK(c.view(0).names()[holder(c, g)] ==
          usher::actors::cluster::owner_of(c.view(0).groups()[g], all));
  CHECK(c.actions[kind::activate_fresh] == 30);
  CHECK(c.actions[kind::activate_recovering] == 0);
  for (std::uint32_t m = 0; m < 3; ++m)
    for (std::uint32_t q = 0; q < 3; ++q) CHECK(c.view(m).state_of(q, c.now()) == member_state::up);
}

TEST_CASE("replicas: a lost holder's groups start from its backup's copy, unless the backup was voted out since") {
  for (bool backup_voted_out : {false, true}) {
    INFO((backup_voted_out ? "the backup paused past failure_timeout after its copies" : "copies kept"));
    sim_cluster c(3, 30, 7);
    c.run_until(1'000 * ms);
    REQUIRE(settled(c));
    // Each group c holds has a complete copy at its backup: the member that
    // takes it over once c is gone.
    std::vector<std::uint32_t> of_c;
    for (std::uint32_t g = 0; g < c.groups(); ++g)
      if (holder(c, g) == 2) {
        of_c.push_back(g);
        auto backup = c.view(2).backup_for(g, c.now());
        REQUIRE(backup);
        c.view(*backup).replica_from(g, 2, 0);
      }
    REQUIRE(!of_c.empty());
    if (backup_voted_out) {
      // Both others pause in turn, each voted out and back at a new generation:
      // a copy taken before that is no use (its holder may have moved on to
      // another backup meanwhile).
      for (std::uint32_t m : {0u, 1u}) {
        c.pause(m);
        c.run_until(c.now() + 1'000 * ms);
        c.resume(m);
        c.run_until(c.now() + 1'000 * ms);
      }
      REQUIRE(c.view(0).generation() > 0);
      REQUIRE(c.view(1).generation() > 0);
    }
    c.crash(2);
    c.run_until(c.now() + 3'000 * ms);
    REQUIRE(c.violation.empty());
    REQUIRE(settled(c));
    for (auto g : of_c) CHECK(holder(c, g) != 2);
    if (backup_voted_out) {
      CHECK(c.actions[kind::activate_replicated] == 0);
      CHECK(c.actions[kind::activate_recovering] >= static_cast<int>(of_c.size()));
    } else {
      CHECK(c.actions[kind::activate_replicated] == static_cast<int>(of_c.size()));
      CHECK(c.actions[kind::activate_recovering] == 0);
    }
  }
}

TEST_CASE("a crashed owner's groups are taken over by the others only once it is voted out") {
  sim_cluster c(3, 30, 2);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  std::vector<std::uint32_t> of_c;
  for (std::uint32_t g = 0; g < c.groups(); ++g)
    if (holder(c, g) == 2) of_c.push_back(g);
  REQUIRE(!of_c.empty());
  c.crash(2);
  // Before failure_timeout passes nobody may take them.
  c.run_until(1'300 * ms);
  for (auto g : of_c) CHECK(c.granting(g).empty());
  c.run_until(3'000 * ms);
  REQUIRE(c.violation.empty());
  REQUIRE(settled(c));
  for (auto g : of_c) CHECK(holder(c, g) != 2);
  // Its leases are unknown to the new owners: they recover first.
  CHECK(c.actions[kind::activate_recovering] == static_cast<int>(of_c.size()));
  CHECK(c.view(0).state_of(2, c.now()) == member_state::down);

  SECTION("restarted, it gets them back by handoff, not by recovery") {
    c.restart(2);
    c.run_until(5'000 * ms);
    REQUIRE(c.violation.empty());
    REQUIRE(settled(c));
    for (auto g : of_c) CHECK(holder(c, g) == 2);
    CHECK(c.actions[kind::hand_off] == static_cast<int>(of_c.size()));
    CHECK(c.actions[kind::activate_recovering] == static_cast<int>(of_c.size()));
    CHECK(c.view(2).generation() >= 1);
  }
}

TEST_CASE("a paused owner grants nothing once resumed, and the others do not vote each other out") {
  sim_cluster c(3, 30, 3);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  c.pause(2);
  c.run_until(2'500 * ms);  // over 3 x failure_timeout
  c.resume(2);
  c.run_until(2'500 * ms);  // the instant it resumes: what it held is no longer valid
  for (std::uint32_t g = 0; g < c.groups(); ++g) CHECK(c.granting(g) != std::vector<std::uint32_t>{2});
  c.run_until(5'000 * ms);
  REQUIRE(c.violation.empty());
  REQUIRE(settled(c));
  // a and b stayed members throughout: never voted out.
  CHECK(c.view(0).generation() == 0);
  CHECK(c.view(1).generation() == 0);
  CHECK(c.view(2).generation() >= 1);
}

TEST_CASE("a member cut off from the majority stops granting, and the majority side takes over") {
  sim_cluster c(3, 30, 4);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  c.partition({0, 0, 1});
  c.run_until(3'000 * ms);
  REQUIRE(c.violation.empty());
  for (std::uint32_t g = 0; g < c.groups(); ++g) {
    auto who = c.granting(g);
    REQUIRE(who.size() == 1);
    CHECK(who[0] != 2);
  }
  c.heal();
  c.run_until(6'000 * ms);
  REQUIRE(c.violation.empty());
  CHECK(settled(c));
}

TEST_CASE("a member that leaves (drains) hands its groups to the others without a recovery") {
  sim_cluster c(3, 30, 7);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  std::size_t of_c = 0;
  for (std::uint32_t g = 0; g < c.groups(); ++g) of_c += holder(c, g) == 2 ? 1 : 0;
  REQUIRE(of_c > 0);
  c.leave(2);
  c.run_until(1'500 * ms);
  REQUIRE(c.violation.empty());
  REQUIRE(settled(c));
  for (std::uint32_t g = 0; g < c.groups(); ++g) CHECK(holder(c, g) != 2);
  CHECK(c.view(2).groups_in_hand() == 0);
  CHECK(c.actions[kind::hand_off] == static_cast<int>(of_c));
  CHECK(c.actions[kind::activate_recovering] == 0);
  // Once it has stopped, nothing needs taking over.
  c.crash(2);
  c.run_until(3'000 * ms);
  REQUIRE(c.violation.empty());
  CHECK(settled(c));
  CHECK(c.actions[kind::activate_recovering] == 0);
}

TEST_CASE("a member that never joins has its groups started by the others without a recovery") {
  sim_cluster c(3, 30, 5);
  c.crash(2);  // never came up
  c.run_until(2'000 * ms);
  REQUIRE(c.violation.empty());
  REQUIRE(settled(c));
  // No member ever heard it: it never held a majority, so it never granted.
  CHECK(c.actions[kind::activate_recovering] == 0);
}

TEST_CASE("two members have no majority once one is lost: the other grants nothing") {
  sim_cluster c(2, 10, 6);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  c.crash(1);
  c.run_until(3'000 * ms);
  REQUIRE(c.violation.empty());
  for (std::uint32_t g = 0; g < c.groups(); ++g) CHECK(c.granting(g).empty());
}

TEST_CASE("random crashes, restarts, pauses, drains and partitions never give a group two granting holders") {
  // Seeds 100 to 159, and those that once found a bug outside them: 12 and
  // 35 left a group with no holder after everything healed (a handoff its
  // receiver refused, waited for by its sender for good). USHER_SIM_SEED=N
  // runs seed N alone.
  std::vector<std::uint64_t> seeds = {12, 35};
  for (std::uint64_t seed = 100; seed < 160; ++seed) seeds.push_back(seed);
  if (const char* one = std::getenv("USHER_SIM_SEED")) seeds = {std::stoull(one)};
  int runs = 0;
  for (auto seed : seeds) {
    std::mt19937_64 rng(seed);
    std::size_t members = 3 + rng() % 3;  // 3 to 5
    sim_cluster c(members, 12, seed);
    c.delay_max = (1 + rng() % 20) * ms;
    c.run_until(1'000 * ms);
    std::vector<bool> crashed(members, false), paused(members, false);
    usec t = c.now();
    std::vector<bool> leaving(members, false);
    for (int fault = 0; fault < 12; ++fault) {
      t += static_cast<usec>(50 + rng() % 900) * ms;
      // A member that drains stops soon after (usher serve exits once its
      // groups are handed off, or at drain_timeout).
      for (std::uint32_t l = 0; l < members; ++l)
        if (leaving[l] && !crashed[l]) c.crash(l), crashed[l] = true, leaving[l] = false;
      auto m = static_cast<std::uint32_t>(rng() % members);
      switch (rng() % 6) {
        case 0:
          if (!crashed[m]) c.crash(m), crashed[m] = true;
          break;
        case 1:
          if (crashed[m]) c.restart(m), crashed[m] = false;
          break;
        case 2:
          if (!crashed[m] && !paused[m]) c.pause(m), paused[m] = true;
          break;
        case 3:
          if (paused[m]) c.resume(m), paused[m] = false;
          break;
        case 5:
          if (!crashed[m] && !paused[m]) c.leave(m), leaving[m] = true;
          break;
        case 4: {
          std::vector<int> side(members);
          for (auto& s : side) s = static_cast<int>(rng() % 2);
          c.partition(side);
          break;
        }
      }
      c.run_until(t);
      INFO("seed " << seed << ", fault " << fault << ": " << c.violation);
      REQUIRE(c.violation.empty());
    }
    // Heal everything: the cluster settles again.
    c.heal();
    for (std::uint32_t m = 0; m < members; ++m) {
      if (leaving[m]) c.crash(m), crashed[m] = true;
      if (paused[m]) c.resume(m);
      if (crashed[m]) c.restart(m);
    }
    c.run_until(t + 8'000 * ms);
    INFO("seed " << seed << "\n" << describe(c));
    REQUIRE(c.violation.empty());
    CHECK(settled(c));
    ++runs;
  }
  CHECK(runs == static_cast<int>(seeds.size()));
}

namespace {

// Every running member counts every other running one up.
bool all_up(sim_cluster& c) {
  for (std::uint32_t m = 0; m < c.members(); ++m)
    for (std::uint32_t q = 0; q < c.members(); ++q)
      if (c.running(m) && c.running(q) && c.view(m).state_of(q, c.now()) != member_state::up)
        return false;
  return true;
}

// Runs until `until` in steps of 10 ms; false if a step found a member
// counting another running one not up.
bool run_all_up(sim_cluster& c, usec until) {
  bool ok = true;
  while (c.now() < until) {
    c.run_until(std::min(until, c.now() + 10 * ms));
    ok = ok && all_up(c);
  }
  return ok;
}

}  // namespace

TEST_CASE("a reload's limits are switched to once every member up has read them, by all together") {
  sim_cluster c(3, 30, 11);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  // a and b read new limits; c has not yet: nobody switches, nobody is counted down.
  c.view(0).propose_limits("d2");
  CHECK(run_all_up(c, 1'500 * ms));
  c.view(1).propose_limits("d2");
  CHECK(run_all_up(c, 3'000 * ms));
  for (std::uint32_t m = 0; m < 3; ++m) CHECK(c.view(m).limits_digest() == "d");
  CHECK(c.actions[kind::switch_limits] == 0);
  CHECK(c.view(0).limits_waiting_for(c.now()) == std::vector<std::uint32_t>{2});
  CHECK(c.view(1).next_limits() == "d2");
  CHECK(c.view(2).next_limits().empty());
  // The last one reads them: all three switch, within a few heartbeats.
  c.view(2).propose_limits("d2");
  CHECK(run_all_up(c, 3'400 * ms));
  for (std::uint32_t m = 0; m < 3; ++m) {
    CHECK(c.view(m).limits_digest() == "d2");
    CHECK(c.view(m).next_limits().empty());
  }
  CHECK(c.actions[kind::switch_limits] == 3);
  // The groups stayed where they were: no handoff, no recovery.
  REQUIRE(c.violation.empty());
  CHECK(settled(c));
  CHECK(c.actions[kind::hand_off] == 0);
  CHECK(c.actions[kind::activate_recovering] == 0);

  SECTION("a member that reads back the limits it applies withdraws what it proposed") {
    c.view(0).propose_limits("d3");
    CHECK(c.view(0).next_limits() == "d3");
    c.view(0).propose_limits("d2");
    CHECK(c.view(0).next_limits().empty());
    c.view(1).propose_limits("d3");
    c.view(2).propose_limits("d3");
    CHECK(run_all_up(c, 4'000 * ms));
    for (std::uint32_t m = 0; m < 3; ++m) CHECK(c.view(m).limits_digest() == "d2");
  }
}

TEST_CASE("a group a reload adds is started once a majority knows it, and beats naming it are taken by members that do not know it yet") {
  sim_cluster c(3, 8, 13);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  // A key whose owner is a: the first member to know it would claim it.
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    auto k = "account:new-" + std::to_string(i);
    if (usher::actors::cluster::owner_of(k, {"a", "b", "c"}) == "a") key = k;
  }
  // a applies the reload first: its beats name a group b and c do not know.
  // They take them all the same (before group ids on the wire they refused
  // such a beat, and voted a out), and promise nothing for it: a cannot
  // start it alone.
  auto g = c.view(0).add_group(key);
  CHECK(g == 8);
  CHECK(c.view(0).add_group(key) == g);  // known: the same index
  CHECK(run_all_up(c, 2'000 * ms));
  CHECK_FALSE(c.view(0).holds(g));
  // b too: a majority knows it, and a starts it afresh (a new cluster: no
  // member was voted out, so nobody can have granted for it before).
  CHECK(c.view(1).add_group(key) == g);
  CHECK(run_all_up(c, 3'000 * ms));
  CHECK(c.view(0).holds(g));
  CHECK_FALSE(c.view(1).holds(g));
  CHECK(c.actions[kind::activate_fresh] == 9);
  // c last: it learns that a holds it, from a's next beat.
  CHECK(c.view(2).add_group(key) == g);
  CHECK(run_all_up(c, 4'000 * ms));
  REQUIRE(c.violation.empty());
  CHECK(settled(c));
  for (std::uint32_t m = 0; m < 3; ++m) CHECK(c.view(m).owner(g) == 0u);
  CHECK(c.actions[kind::activate_fresh] == 9);
  CHECK(c.actions[kind::hand_off] == 0);
  CHECK(c.view(2).id_of(g) == usher::actors::cluster::group_id_of(key));
  CHECK(c.view(2).group_of(usher::actors::cluster::group_id_of(key)) == g);
  CHECK_FALSE(c.view(2).group_of(usher::actors::cluster::group_id_of("account:nobody")));

  SECTION("its holder crashes: it is taken over like any other group, recovering") {
    c.crash(0);
    c.run_until(c.now() + 2'000 * ms);
    REQUIRE(c.violation.empty());
    CHECK(c.actions[kind::activate_recovering] >= 1);
    CHECK(c.actions[kind::activate_fresh] == 9);
  }
}

TEST_CASE("a member back from a partition, where it read limits the others switched to without it, gets its groups once it applies them") {
  sim_cluster c(3, 30, 13);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  c.partition({0, 0, 1});
  c.run_until(4'000 * ms);  // c is voted out: a and b hold every group
  for (std::uint32_t m = 0; m < 3; ++m) c.view(m).propose_limits("d2");
  c.run_until(5'000 * ms);
  REQUIRE(c.view(0).limits_digest() == "d2");
  REQUIRE(c.view(2).limits_digest() == "d");  // it cannot switch without a majority
  c.heal();
  // Its groups come back to it, but none while it applies the old limits:
  // their accounts would go back to those for a heartbeat or two (and a
  // ledger of the old limits would be handed leases past them).
  // (First it gives up those it held when cut off.)
  bool gave_up = false, early = false;
  while (c.now() < 9'000 * ms) {
    c.run_until(c.now() + 5 * ms);
    std::size_t held = 0;
    for (std::uint32_t g = 0; g < c.groups(); ++g) held += c.view(2).holds(g) ? 1 : 0;
    gave_up = gave_up || held == 0;
    early = early || (gave_up && held > 0 && c.view(2).limits_digest() != "d2");
  }
  CHECK(gave_up);
  CHECK_FALSE(early);
  REQUIRE(c.violation.empty());
  CHECK(settled(c));
  CHECK(c.view(2).limits_digest() == "d2");
  std::size_t of_c = 0;
  for (std::uint32_t g = 0; g < c.groups(); ++g) of_c += holder(c, g) == 2 ? 1 : 0;
  CHECK(of_c > 0);
}

TEST_CASE("a member down does not hold a switch back: restarted with the old limits it cannot join") {
  sim_cluster c(3, 30, 12);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  c.crash(2);
  c.run_until(3'000 * ms);
  REQUIRE(settled(c));
  c.view(0).propose_limits("d2");
  c.view(1).propose_limits("d2");
  c.run_until(3'500 * ms);
  CHECK(c.view(0).limits_digest() == "d2");
  CHECK(c.view(1).limits_digest() == "d2");
  // Restarted with the file it had: the others do not count it up.
  c.restart(2, "d");
  c.run_until(5'000 * ms);
  REQUIRE(c.violation.empty());
  CHECK(settled(c));
  CHECK(c.view(0).digest_mismatch(2));
  CHECK(c.view(0).state_of(2, c.now()) != member_state::up);
  for (std::uint32_t g = 0; g < c.groups(); ++g) CHECK(holder(c, g) != 2);
  // Restarted with the new one: it joins and gets its groups back.
  c.crash(2);
  c.restart(2, "d2");
  c.run_until(8'000 * ms);
  REQUIRE(c.violation.empty());
  CHECK(settled(c));
  CHECK(c.view(0).state_of(2, c.now()) == member_state::up);
  std::vector<std::string> all = {"a", "b", "c"};
  for (std::uint32_t g = 0; g < c.groups(); ++g)
    CHECK(c.view(0).names()[holder(c, g)] == usher::actors::cluster::owner_of(c.view(0).groups()[g], all));
}

TEST_CASE("a member forwards a group to a holder of other limits than the group's owner, which keeps it") {
  // Members count up those whose limits meet theirs, applied or read, so
  // during a reload two members can count different members up; a holder
  // never hands a group to a member of other limits. Forwarding to the
  // owner a member counts up sent such a group's requests, for good, to a
  // member that would never get it (503 not_owner there). Found by usher
  // cluster-sim (seed 22597 of its 5-member shape), in both shapes below.
  sim_cluster c(5, 30, 17);
  c.run_until(1'000 * ms);
  REQUIRE(settled(c));
  std::uint32_t restarted = 0;      // a: restarted with the new limits in its file
  std::vector<std::uint32_t> asked;  // members whose forwarding is checked
  SECTION("the owner read the limits the asking member only proposes") {
    // c and a read new limits the others never read; a restarts with them:
    // c counts a up (a applies what c proposes), b, d and e do not.
    c.view(2).propose_limits("d2");
    c.view(0).propose_limits("d2");
    c.run_until(2'000 * ms);
    asked = {2};
  }
  SECTION("the owner and the asking member apply limits the holder only proposes") {
    // c restarts with new limits, b and a read them, a restarts with them:
    // a and c count each other and b up (a majority: they grant), d and e
    // count b up; b, holding a's groups meanwhile, keeps them.
    c.view(2).propose_limits("d2");
    c.view(1).propose_limits("d2");
    c.crash(2);
    c.run_until(3'000 * ms);
    c.restart(2, "d2");
    c.view(0).propose_limits("d2");
    c.run_until(5'000 * ms);
    asked = {0, 2};
  }
  c.crash(restarted);
  c.run_until(c.now() + 3'000 * ms);
  c.restart(restarted, "d2");
  c.run_until(c.now() + 3'000 * ms);
  REQUIRE(c.violation.empty());
  std::size_t away_from_owner = 0;
  for (auto m : asked) {
    auto& v = c.view(m);
    REQUIRE(v.state_of(restarted, c.now()) == member_state::up);
    for (std::uint32_t g = 0; g < c.groups(); ++g) {
      INFO("member " << m << ", group " << g);
      auto who = c.granting(g);
      REQUIRE(who.size() == 1);
      // (A holder the member does not count up, of limits it neither
      // applies nor read, is not one it can know of: 503 there.)
      if (who[0] == m || v.state_of(who[0], c.now()) != member_state::up) continue;
      CHECK(v.forward_to(g) == who[0]);
      away_from_owner += v.owner(g) != who[0] ? 1 : 0;
    }
  }
  CHECK(away_from_owner > 0);  // owner() is a there for a's home groups
  CHECK(c.view(3).digest_mismatch(restarted));
  // Every group is granted by one member.
  CHECK(settled(c));
}

