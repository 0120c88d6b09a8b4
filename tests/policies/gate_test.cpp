// Plug-in gates (policies/gate.hpp): the engine's contract holds for a gate
// it does not know (all or nothing, queueing, time changes, accounts that
// share one), the built-in type tokens_in_flight, plan errors, and a gate's
// state copied with its account.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "policies/engine.hpp"
#include "policies/ledger.hpp"

using namespace usher::policies;

namespace {

// -- Gates of the tests' own, registered as a library would ------------------

// on_arrival: at most `max` requests taken per account, ever. Its count is
// state of its own (save/restore).
class quota final : public gate {
 public:
  explicit quota(std::int64_t max) : max_(max) {}
  phase when() const override { return phase::on_arrival; }
  bool fits(const request& r, std::uint16_t, usec) override { return taken(r.account) < max_; }
  void charge(const request& r, std::uint16_t, usec) override { ++grow(r.account); }
  void report(id a, std::uint16_t, std::vector<std::pair<std::string, double>>& out) const override {
    out.emplace_back("taken", static_cast<double>(taken(a)));
  }
  std::string save(id a) const override { return taken(a) ? std::to_string(taken(a)) : ""; }
  void restore(id a, std::uint16_t, const std::string& bytes) override { grow(a) = std::stoll(bytes); }

 private:
  std::int64_t taken(id a) const { return a < taken_.size() ? taken_[a] : 0; }
  std::int64_t& grow(id a) {
    if (a >= taken_.size()) taken_.resize(a + 1, 0);
    return taken_[a];
  }
  std::int64_t max_;
  std::vector<std::int64_t> taken_;
};

// while_running: nothing runs before `opens`; a time change, not a release,
// lets the queue in.
class closed_until final : public gate {
 public:
  explicit closed_until(usec opens) : opens_(opens) {}
  phase when() const override { return phase::while_running; }
  bool fits(const request&, std::uint16_t, usec now) override { return now >= opens_; }
  void charge(const request&, std::uint16_t, usec) override {}
  usec next_change(usec now) const override { return now < opens_ ? opens_ : never; }

 private:
  usec opens_;
};

// while_running, provider-wide: at most `cap` requests running over all
// accounts. Counts what it holds, so a test can see that nothing leaks.
class global_cap final : public gate {
 public:
  explicit global_cap(std::int64_t cap) : cap_(cap) {}
  phase when() const override { return phase::while_running; }
  bool couples_accounts() const override { return true; }
  bool fits(const request&, std::uint16_t, usec) override { return running_ < cap_; }
  void charge(const request&, std::uint16_t, usec) override { ++running_; }
  void release(const request&, std::uint16_t, usec, usec) override { --running_; }
  void report(id, std::uint16_t, std::vector<std::pair<std::string, double>>& out) const override {
    out.emplace_back("running", static_cast<double>(running_));
  }

 private:
  std::int64_t cap_, running_ = 0;
};

void register_test_gates() {
  auto& r = gate_registry::global();
  r.add("test_quota", [](gate_params& p, const plan&) -> std::unique_ptr<gate> {
    return std::make_unique<quota>(p.count("max", 1, 0, 1000));
  }, "at most max requests per account");
  r.add("test_closed_until", [](gate_params& p, const plan&) -> std::unique_ptr<gate> {
    return std::make_unique<closed_until>(p.duration("opens", 0));
  }, "nothing before opens");
  r.add("test_global_cap", [](gate_params& p, const plan&) -> std::unique_ptr<gate> {
    return std::make_unique<global_cap>(p.count("cap", 1, 0, 1000));
  }, "at most cap running over all accounts");
}

struct bench {
  explicit bench(std::vector<plan::setting> s, const std::string& preset = "streams:solo")
      : p((register_test_gates(), plan::build(preset, s))), e(p) {}

  engine::decision arrive(id account, usec now, std::uint32_t tokens = 0) {
    request r;
    r.seq = seq++;
    r.account = account;
    r.tokens = tokens;
    r.cost = p->cost_of(0, no_id, -1);
    return e.arrive(r, 0, now, r.seq);
  }

  double report(id account, const std::string& name) {
    std::vector<std::pair<std::string, double>> out;
    e.gate_report(account, out);
    for (auto& kv : out)
      if (kv.first == name) return kv.second;
    FAIL("no report " << name);
    return -1;
  }

  std::shared_ptr<const plan> p;
  engine e;
  std::uint64_t seq = 0;
};

plan::setting set(const std::string& key, const std::string& value) { return {key, value, "test"}; }

// What plan::build says of `s`, or "no error".
std::string error_of(const std::vector<plan::setting>& s) {
  try {
    plan::build("streams", s);
  } catch (const input_error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("plug-in gates: a request any gate refuses is charged in none") {
  // Solo: 3 streams, no queue by default here (queue.max_depth = 0).
  bench b({set("queue.max_depth", "0"), set("gate.q.type", "test_quota"), set("gate.q.max", "4"),
           set("gate.t.type", "tokens_in_flight"), set("gate.t.limit", "100")});

  SECTION("the on_arrival gate refuses: no pool unit, no tokens in flight") {
    for (int i = 0; i < 4; ++i) {
      auto d = b.arrive(0, 0, 10);
      REQUIRE(d.what == engine::verdict::admitted);
      b.e.release(d.held, 1);
    }
    auto refused = b.arrive(0, 2, 10);
    CHECK(refused.what == engine::verdict::done);
    CHECK(refused.code == status::rejected);
    CHECK(refused.why == reason::gate);
    CHECK(refused.gate == 0);  // q, the plan's first gate
    CHECK(b.e.usage_of(0).in_flight == 0);
    CHECK(b.report(0, "t.tokens_in_flight") == 0);
  }
  SECTION("the pool refuses: the on_arrival gate keeps its count") {
    std::vector<engine::lease> held;
    for (int i = 0; i < 3; ++i) held.push_back(b.arrive(0, 0, 10).held);
    CHECK(b.report(0, "q.taken") == 3);
    auto full = b.arrive(0, 1, 10);
    CHECK(full.why == reason::over_limit);
    CHECK(full.gate == no_gate);
    CHECK(b.report(0, "q.taken") == 3);
    CHECK(b.report(0, "t.tokens_in_flight") == 30);
  }
  SECTION("the while_running gate refuses: the pool and the on_arrival gate are untouched") {
    auto big = b.arrive(0, 0, 90);
    REQUIRE(big.what == engine::verdict::admitted);
    auto over = b.arrive(0, 1, 20);
    CHECK(over.what == engine::verdict::done);
    CHECK(over.why == reason::gate);
    CHECK(over.gate == 1);  // t
    CHECK(b.e.usage_of(0).in_flight == 1);
    CHECK(b.report(0, "q.taken") == 1);
    CHECK(b.report(0, "t.tokens_in_flight") == 90);
    b.e.release(big.held, 2);
    CHECK(b.report(0, "t.tokens_in_flight") == 0);
    CHECK(b.arrive(0, 3, 20).what == engine::verdict::admitted);
  }
  SECTION("other accounts have their own room") {
    REQUIRE(b.arrive(0, 0, 100).what == engine::verdict::admitted);
    CHECK(b.arrive(1, 0, 100).what == engine::verdict::admitted);
  }
}

TEST_CASE("plug-in gates: a while_running gate's refusal waits in the queue, FIFO") {
  bench b({set("queue.max_depth", "5"), set("gate.t.type", "tokens_in_flight"), set("gate.t.limit", "100")});
  auto first = b.arrive(0, 0, 80);
  REQUIRE(first.what == engine::verdict::admitted);
  auto waits = b.arrive(0, 1, 50);
  REQUIRE(waits.what == engine::verdict::queued);
  // A small one that would fit does not overtake the head.
  CHECK(b.arrive(0, 2, 10).what == engine::verdict::queued);
  std::vector<engine::admission> in;
  b.e.admit_waiting(3, in);
  CHECK(in.empty());
  b.e.release(first.held, 4);
  b.e.admit_waiting(4, in);
  REQUIRE(in.size() == 2);  // 50 then 10: 60 of 100
  CHECK(in[0].tag == 1);  // tags are the sequence numbers
  CHECK(in[1].tag == 2);
  CHECK(b.report(0, "t.tokens_in_flight") == 60);
}

TEST_CASE("plug-in gates: a request bigger than a gate's whole room is refused at once, not queued") {
  bench b({set("queue.max_depth", "5"), set("gate.t.type", "tokens_in_flight"), set("gate.t.limit", "100")});
  auto d = b.arrive(0, 0, 101);
  CHECK(d.what == engine::verdict::done);
  CHECK(d.why == reason::gate);
  CHECK(d.gate == 0);
  CHECK(b.e.usage_of(0).queued == 0);
}

TEST_CASE("plug-in gates: a gate's window turning serves the queue without any release") {
  bench b({set("queue.max_depth", "5"), set("queue.max_wait", "60"), set("gate.c.type", "test_closed_until"),
           set("gate.c.opens", "10")});
  CHECK(b.e.next_deadline() == never);  // nobody waits: the change is nobody's business
  auto d = b.arrive(0, seconds(1));
  REQUIRE(d.what == engine::verdict::queued);
  CHECK(b.e.next_deadline() == seconds(10));
  std::vector<engine::timeout> out;
  std::vector<engine::admission> in;
  b.e.expire(seconds(10), out);
  b.e.admit_waiting(seconds(10), in);
  CHECK(out.empty());
  REQUIRE(in.size() == 1);
  CHECK(b.e.usage_of(0).in_flight == 1);
  CHECK(b.e.next_deadline() == never);
}

TEST_CASE("plug-in gates: a gate that couples accounts wakes another account's head on release") {
  bench b({set("queue.max_depth", "5"), set("gate.g.type", "test_global_cap"), set("gate.g.cap", "1")});
  CHECK(b.p->has_shared_gates());  // the simulator keeps such accounts on one shard
  auto holder = b.arrive(0, 0);
  REQUIRE(holder.what == engine::verdict::admitted);
  REQUIRE(b.arrive(1, 1).what == engine::verdict::queued);
  b.e.release(holder.held, 2);
  std::vector<engine::admission> in;
  b.e.admit_waiting(2, in);
  REQUIRE(in.size() == 1);
  CHECK(in[0].req.account == 1);
  CHECK(b.report(1, "g.running") == 1);
  b.e.release(in[0].held, 3);
  CHECK(b.report(1, "g.running") == 0);
}

TEST_CASE("plug-in gates: a gate's own state moves with its account, its leases are charged again") {
  register_test_gates();
  auto p = plan::build("streams:solo", {set("queue.max_depth", "0"), set("gate.q.type", "test_quota"),
                                        set("gate.q.max", "3"),
                                        set("gate.t.type", "tokens_in_flight"), set("gate.t.limit", "100")});
  ledger from(p);
  std::vector<ledger::event> events;
  from.advance(0, events);
  request r;
  r.account = 0;
  r.tokens = 40;
  r.cost = 1;
  for (int i = 0; i < 2; ++i) {
    r.seq = static_cast<std::uint64_t>(i);
    REQUIRE(from.arrive(r, 0, 0, ledger::terms{}).what == engine::verdict::admitted);
  }
  auto image = from.export_account(0, 0);
  REQUIRE(image.gate_states.size() == 1);
  CHECK(image.gate_states[0].first == "q");

  ledger to(p);
  std::vector<ledger::handle> leases, waiters;
  to.import_account(image, leases, waiters);
  CHECK(leases.size() == 2);
  CHECK(to.usage_of(0).in_flight == 2);
  r.seq = 2;
  r.tokens = 30;  // 80 + 30 > 100: the copied leases count in tokens_in_flight
  CHECK(to.arrive(r, 0, 1, ledger::terms{}).why == reason::gate);
  r.seq = 3;
  r.tokens = 10;
  CHECK(to.arrive(r, 0, 1, ledger::terms{}).what == engine::verdict::admitted);  // the 3rd of 3
  r.seq = 4;
  CHECK(to.arrive(r, 0, 1, ledger::terms{}).why == reason::gate);  // the quota came along
}

TEST_CASE("plug-in gates: a plan's gate sections are checked where they stand") {
  register_test_gates();
  CHECK_THAT(error_of({{"gate.t.type", "tokens_in_flite", "p.ini:3"}, {"gate.t.limit", "5", "p.ini:4"}}),
             Catch::Contains("p.ini:3") && Catch::Contains("unknown gate type \"tokens_in_flite\"") &&
                 Catch::Contains("tokens_in_flight"));
  CHECK_THAT(error_of({{"gate.t.limit", "5", "p.ini:4"}}),
             Catch::Contains("p.ini:4") && Catch::Contains("gate.t.type") && Catch::Contains("missing"));
  CHECK_THAT(error_of({{"gate.t.type", "tokens_in_flight", "p.ini:3"}, {"gate.t.limit", "5", "p.ini:4"},
                       {"gate.t.limt", "5", "p.ini:5"}}),
             Catch::Contains("p.ini:5") && Catch::Contains("gate.t.limt") && Catch::Contains("unknown key"));
  CHECK_THAT(error_of({{"gate.t.type", "tokens_in_flight", "p.ini:3"}, {"gate.t.limit", "-5", "p.ini:4"}}),
             Catch::Contains("p.ini:4") && Catch::Contains("gate.t.limit") && Catch::Contains("\"-5\""));
  CHECK_THAT(error_of({{"gate.t.type", "tokens_in_flight", "p.ini:3"}}),
             Catch::Contains("gate.t.limit") && Catch::Contains("missing"));
  CHECK_THAT(error_of({{"gate.a.b.c", "1", "p.ini:9"}}), Catch::Contains("p.ini:9"));  // NAME has no dots:
  // a.b.c reads as NAME a, KEY b.c, and then its type is missing
  CHECK_THAT(error_of({{"gate.x y.type", "test_quota", "p.ini:2"}}),
             Catch::Contains("p.ini:2") && Catch::Contains("gate.NAME.KEY"));
  CHECK_THAT(error_of({{"gate.q.type", "test_quota", "p.ini:2"}, {"gate.q.max", "many", "p.ini:3"}}),
             Catch::Contains("p.ini:3") && Catch::Contains("gate.q.max"));
}

TEST_CASE("plug-in gates: the effective plan lists every gate key, gates keep their plan order") {
  register_test_gates();
  auto p = plan::build("streams", {set("gate.z.type", "test_quota"), set("gate.a.type", "tokens_in_flight"),
                                   set("gate.a.limit", "7")});
  REQUIRE(p->gates().size() == 2);
  CHECK(p->gates()[0].name == "z");
  CHECK(p->gates()[1].name == "a");
  CHECK(p->effective().at("gate.a.limit") == "7");
  CHECK(p->effective().at("gate.z.type") == "test_quota");
  CHECK_FALSE(p->has_shared_gates());
}

TEST_CASE("key_cap: each key of an account holds at most its cap of the pool, a request without a key any") {
  bench b({set("queue.max_depth", "0"), set("limit", "5"), set("gate.k.type", "key_cap"), set("gate.k.limit", "2")},
          "streams");
  auto with_key = [&](id account, id key, std::int64_t cost = 1) {
    request r;
    r.seq = b.seq++;
    r.account = account;
    r.key = key;
    r.cost = cost;
    return b.e.arrive(r, 0, 0, r.seq);
  };
  auto first = with_key(0, 7);
  REQUIRE(first.what == engine::verdict::admitted);
  REQUIRE(with_key(0, 7).what == engine::verdict::admitted);
  auto third = with_key(0, 7);
  CHECK(third.what == engine::verdict::done);
  CHECK(third.why == reason::gate);
  CHECK(with_key(0, 8).what == engine::verdict::admitted);  // another key of the account
  CHECK(with_key(1, 7).what == engine::verdict::admitted);  // the same key id of another account
  CHECK(with_key(0, no_id).what == engine::verdict::admitted);  // no key: the pool alone
  CHECK(b.report(0, "k.keys_holding") == 2);
  CHECK(b.report(0, "k.keys_at_cap") == 1);
  // The account's pool of 5 still bounds them all: 4 held, one more fits.
  CHECK(with_key(0, 9).what == engine::verdict::admitted);
  CHECK(with_key(0, 10).why == reason::over_limit);
  // Released, the key has room again (and the pool: 4 of 5 held).
  b.e.release(first.held, 1);
  CHECK(with_key(0, 7).what == engine::verdict::admitted);
  // A request bigger than a key's cap never fits: refused at once.
  auto big = with_key(2, 1, 3);
  CHECK(big.what == engine::verdict::done);
  CHECK(big.why == reason::gate);
  CHECK(b.e.usage_of(2).in_flight == 0);
}

TEST_CASE("plug-in gates: an account may have its own value of a gate's key") {
  auto p = plan::build("streams", {set("queue.max_depth", "0"), set("gate.t.type", "tokens_in_flight"),
                                   set("gate.t.limit", "100"), set("account.big.co.gate.t.limit", "300")});
  auto big = p->profile_of("big.co");  // an account name may contain dots
  REQUIRE(big != 0);
  CHECK(p->profile_of("small") == 0);
  CHECK(p->effective().at("account.big.co.gate.t.limit") == "300");
  engine e(p);
  auto arrive = [&](id account, std::uint16_t profile, std::uint32_t tokens) {
    request r;
    r.seq = static_cast<std::uint64_t>(account);
    r.account = account;
    r.tokens = tokens;
    r.cost = 1;
    return e.arrive(r, profile, 0, r.seq);
  };
  auto in_big = arrive(0, big, 250);
  CHECK(in_big.what == engine::verdict::admitted);  // 250 of its own 300
  auto in_small = arrive(1, 0, 250);
  CHECK(in_small.what == engine::verdict::done);  // over the plan's 100: never fits
  CHECK(in_small.why == reason::gate);
  std::vector<std::pair<std::string, double>> report;
  e.gate_report(0, report);
  CHECK(std::find(report.begin(), report.end(), std::make_pair(std::string("t.tokens_in_flight_limit"), 300.0)) !=
        report.end());
}

TEST_CASE("plug-in gates: an account's value of a gate's key is checked where it stands") {
  register_test_gates();
  const std::vector<plan::setting> k{{"gate.k.type", "key_cap", "p.ini:2"}, {"gate.k.limit", "2", "p.ini:3"}};
  auto with = [&](plan::setting s) {
    auto all = k;
    all.push_back(std::move(s));
    return error_of(all);
  };
  CHECK(with({"account.acme.gate.k.limit", "4", "p.ini:9"}) == "no error");
  CHECK_THAT(with({"account.acme.gate.k.limit", "0", "p.ini:9"}),
             Catch::Contains("p.ini:9") && Catch::Contains("account.acme.gate.k.limit") &&
                 Catch::Contains("\"0\""));
  CHECK_THAT(with({"account.acme.gate.nope.limit", "4", "p.ini:9"}),
             Catch::Contains("p.ini:9") && Catch::Contains("no gate \"nope\""));
  CHECK_THAT(with({"account.acme.gate.k.on_full", "wait", "p.ini:9"}),
             Catch::Contains("p.ini:9") && Catch::Contains("account.acme.gate.k.on_full") &&
                 Catch::Contains("plan-wide only"));
  CHECK_THAT(with({"account.acme.gate.k.limt", "4", "p.ini:9"}),
             Catch::Contains("p.ini:9") && Catch::Contains("account.acme.gate.k.limt") &&
                 Catch::Contains("unknown key"));
  // A gate type that reads a key plan-wide only (count, not count_by_profile).
  CHECK_THAT(error_of({{"gate.q.type", "test_quota", "p.ini:2"}, {"account.a.gate.q.max", "2", "p.ini:4"}}),
             Catch::Contains("p.ini:4") && Catch::Contains("plan-wide only"));
}

TEST_CASE("plug-in gates: type none turns a plan's gate off, its keys and accounts' keys unread") {
  register_test_gates();
  // A plan file's gate, then the variant's `gate.q.type=none` (set later: it wins).
  std::vector<plan::setting> on = {set("queue.max_depth", "0"), set("limit", "5"), set("gate.q.type", "test_quota"),
                                   set("gate.q.max", "1")};
  auto off = on;
  off.push_back(set("gate.q.type", "none"));
  off.push_back(set("account.acme.gate.q.max", "2"));  // test_quota would refuse it: plan-wide only
  bench with(on, "streams"), without(off, "streams");
  CHECK(with.p->gates().size() == 1);
  CHECK(without.p->gates().empty());
  CHECK(without.p->effective().at("gate.q.type") == "none");
  // The quota's one request per account holds only where the gate is on;
  // off, the pool's limit of 5 is all there is.
  CHECK(with.arrive(0, 0).what == engine::verdict::admitted);
  CHECK(with.arrive(0, 0).what == engine::verdict::done);
  for (int i = 0; i < 5; ++i) CHECK(without.arrive(0, 0).what == engine::verdict::admitted);
  CHECK(without.arrive(0, 0).what == engine::verdict::done);
  // A key the gate's type would refuse is not read while it is off.
  off.push_back(set("gate.q.max", "many"));
  CHECK(error_of(off) == "no error");
}
