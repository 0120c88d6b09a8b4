// Requests and tokens per minute (issue #13): the two token buckets alone,
// and inside the engine, where a refusal by any gate charges none.
#include <catch2/catch.hpp>

#include "policies/engine.hpp"
#include "policies/rate_limit_gate.hpp"

using namespace usher::policies;

TEST_CASE("rate limit: a request bucket starts full, then refills one request per 60/RPM seconds") {
  rate_limit_gate g({60, -1, seconds(60)});
  for (int i = 0; i < 60; ++i) {
    REQUIRE(g.fits(0, 0) == reason::none);
    g.charge(0);
  }
  CHECK(g.fits(0, 0) == reason::request_rate);
  CHECK(g.wait_for(0) == seconds(1));
  CHECK(g.fits(0, seconds(1) - 1) == reason::request_rate);
  CHECK(g.wait_for(0) == 1);
  REQUIRE(g.fits(0, seconds(1)) == reason::none);
  g.charge(0);
  CHECK(g.remaining_requests() == 0);
  CHECK(g.remaining_tokens() == -1);  // not limited
  // A long idle time fills it to the brim, never beyond.
  CHECK(g.fits(0, seconds(3600)) == reason::none);
  CHECK(g.remaining_requests() == 60);
}

TEST_CASE("rate limit: tokens are charged by the request's size, and a request bigger than a full bucket never fits") {
  rate_limit_gate g({-1, 1000, seconds(60)});
  REQUIRE(g.fits(600, 0) == reason::none);
  g.charge(600);
  CHECK(g.fits(600, 0) == reason::token_rate);
  // 200 tokens short at 1000 a minute: 12 s.
  CHECK(g.wait_for(600) == seconds(12));
  CHECK(g.fits(600, seconds(12)) == reason::none);
  CHECK(g.fits(1001, seconds(12)) == reason::token_rate);
  CHECK(g.wait_for(1001) == never);
  CHECK(g.fits(0, seconds(12)) == reason::none);  // tokens 0 always fit a token rate
}

TEST_CASE("rate limit: rate.burst bounds what a bucket holds, and the request rate is asked first") {
  rate_limit_gate g({60, 100, seconds(6)});  // 6 requests, 10 tokens at most
  CHECK(g.fits(11, 0) == reason::token_rate);
  for (int i = 0; i < 6; ++i) {
    REQUIRE(g.fits(1, 0) == reason::none);
    g.charge(1);
  }
  CHECK(g.fits(100, 0) == reason::request_rate);
  CHECK(g.remaining_tokens() == 4);
  // The state copies whole: the copy refuses and refills alike.
  rate_limit_gate copy({60, 100, seconds(6)});
  copy.restore(g.save());
  CHECK(copy.fits(1, 0) == reason::request_rate);
  CHECK(copy.fits(4, seconds(1)) == reason::none);
  CHECK(g.fits(4, seconds(1)) == reason::none);
  CHECK(copy.remaining_tokens() == g.remaining_tokens());
  // Restored under a smaller rate (a reload), a bucket holds no more than the new one can.
  rate_limit_gate smaller({2, 100, seconds(60)});
  rate_limit_gate fresh({60, 100, seconds(60)});
  smaller.restore(fresh.save());
  CHECK(smaller.remaining_requests() == 2);
}

namespace {

engine::decision arrive(engine& e, std::uint64_t seq, usec now, std::uint32_t tokens,
                        id model = no_id, id account = 0) {
  request r;
  r.seq = seq;
  r.account = account;
  r.model = model;
  r.tokens = tokens;
  r.cost = 1;
  return e.arrive(r, 0, now, seq);
}

}  // namespace

TEST_CASE("rate limit in the engine: refused by a rate nothing is held, refused by the pool no rate is charged") {
  auto p = plan::build("weighted", {{"limit", "1", "test"},
                                    {"requests_per_minute", "3", "test"},
                                    {"tokens_per_minute", "100", "test"}});
  engine e(p);
  auto first = arrive(e, 0, 0, 40);
  REQUIRE(first.what == engine::verdict::admitted);
  // The pool is full (no queue): 429 over_limit, and the buckets keep their level.
  auto full = arrive(e, 1, 0, 40);
  CHECK(full.code == status::rejected);
  CHECK(full.why == reason::over_limit);
  rate_limit_gate::state s;
  REQUIRE(e.rates_of(0, s));
  rate_limit_gate expected({3, 100, seconds(60)});
  REQUIRE(expected.fits(40, 0) == reason::none);
  expected.charge(40);
  CHECK(s.requests == expected.save().requests);
  CHECK(s.tokens == expected.save().tokens);
  e.release(first.held, 1);
  // 60 tokens left: a request of 70 is refused by the token rate, and holds nothing.
  auto big = arrive(e, 2, 1, 70);
  CHECK(big.why == reason::token_rate);
  CHECK(e.usage_of(0).in_flight == 0);
  CHECK(e.rate_wait(0, no_id, 70) == (10 * 60'000'000 + 99) / 100 - 1);  // 10 tokens short, 1 us refilled
  auto fits = arrive(e, 3, 1, 60);
  CHECK(fits.what == engine::verdict::admitted);
}

TEST_CASE("rate limit in the engine: a queued request is counted when it arrives, not again when admitted") {
  auto p = plan::build("streams:solo", {{"limit", "1", "test"},
                                        {"queue.max_depth", "5", "test"},
                                        {"requests_per_minute", "2", "test"}});
  engine e(p);
  auto first = arrive(e, 0, 0, 0);
  REQUIRE(first.what == engine::verdict::admitted);
  auto second = arrive(e, 1, 0, 0);
  REQUIRE(second.what == engine::verdict::queued);
  // Both requests of the minute are used: a third is refused at once.
  CHECK(arrive(e, 2, 0, 0).why == reason::request_rate);
  e.release(first.held, seconds(1));
  std::vector<engine::admission> in;
  e.admit_waiting(seconds(1), in);
  REQUIRE(in.size() == 1);  // the waiter runs without asking the rate again
  rate_limit_gate::state s;
  REQUIRE(e.rates_of(0, s));
  CHECK(s.requests < 60'000'000);  // less than one request left
}

TEST_CASE("per-model rates: each (account, model) has its own buckets beside the account's") {
  // The plan names m0 and m1 (ids 0 and 1): m0 has 2 requests a minute of
  // its own, m1 none; the account has 4.
  auto p = plan::build("streams", {{"limit", "none", "test"},
                                   {"requests_per_minute", "4", "test"},
                                   {"requests_per_minute.m0", "2", "test"},
                                   {"cost.m1", "1", "test"}});
  REQUIRE(p->named_models() == std::vector<std::string>{"m0", "m1"});
  REQUIRE(p->model_rates(0) != nullptr);
  CHECK(p->model_rates(1) == nullptr);
  engine e(p);
  CHECK(arrive(e, 0, 0, 0, 0).what == engine::verdict::admitted);
  CHECK(arrive(e, 1, 0, 0, 0).what == engine::verdict::admitted);
  SECTION("the model's rate refuses, and charges nothing in the account's bucket") {
    auto third = arrive(e, 2, 0, 0, 0);
    CHECK(third.why == reason::request_rate);
    CHECK(e.rate_wait(0, 0, 0) == seconds(30));  // 2 a minute: one every 30 s
    CHECK(e.rate_wait(0, 1, 0) == 0);            // m1 asks only the account's, 2 left
    CHECK(arrive(e, 3, 0, 0, 1).what == engine::verdict::admitted);
    CHECK(arrive(e, 4, 0, 0, 1).what == engine::verdict::admitted);
    // Now the account's 4 are used too: m1 and requests without a model stop.
    CHECK(arrive(e, 5, 0, 0, 1).why == reason::request_rate);
    CHECK(arrive(e, 6, 0, 0).why == reason::request_rate);
  }
  SECTION("another account has its own buckets for the model") {
    CHECK(arrive(e, 2, 0, 0, 0, 1).what == engine::verdict::admitted);
    CHECK(arrive(e, 3, 0, 0, 0, 1).what == engine::verdict::admitted);
    CHECK(arrive(e, 4, 0, 0, 0, 1).why == reason::request_rate);
  }
  SECTION("the buckets are part of the account's state: saved and restored") {
    std::vector<std::pair<id, rate_limit_gate::state>> saved;
    e.model_rates_of(0, saved);
    REQUIRE(saved.size() == 1);
    CHECK(saved[0].first == 0);
    engine copy(p);
    copy.restore_model_rates(0, 0, saved[0].first, saved[0].second);
    CHECK(arrive(copy, 2, 0, 0, 0).why == reason::request_rate);
    CHECK(arrive(copy, 3, seconds(30), 0, 0).what == engine::verdict::admitted);
  }
}

TEST_CASE("per-model rates: tokens per minute of a model, with the account's burst") {
  auto p = plan::build("streams", {{"limit", "none", "test"},
                                   {"tokens_per_minute.m0", "600", "test"},
                                   {"rate.burst", "10s", "test"}});
  engine e(p);
  // A bucket of 10 s at 600 a minute holds 100 tokens.
  CHECK(arrive(e, 0, 0, 101, 0).why == reason::token_rate);
  CHECK(e.rate_wait(0, 0, 101) == never);
  CHECK(arrive(e, 1, 0, 100, 0).what == engine::verdict::admitted);
  CHECK(arrive(e, 2, seconds(1), 20, 0).why == reason::token_rate);  // 10 refilled
  CHECK(arrive(e, 3, seconds(2), 20, 0).what == engine::verdict::admitted);
  CHECK(arrive(e, 4, seconds(2), 1000).what == engine::verdict::admitted);  // no model: no rate
}
