// Plans: presets, overrides, and the errors a user sees.
#include <catch2/catch.hpp>

#include "policies/input_error.hpp"
#include "policies/plan.hpp"

using namespace usher::policies;

TEST_CASE("streams tiers: solo 3, team 10, platform 50 by default, each a parameter") {
  CHECK(plan::build("streams:solo", {})->profile(0).limit == 3);
  CHECK(plan::build("streams:team", {})->profile(0).limit == 10);
  CHECK(plan::build("streams", {})->profile(0).limit == 10);
  CHECK(plan::build("streams:platform", {})->profile(0).limit == 50);
  CHECK(plan::build("streams:team", {{"tiers.team", "12", "t"}})->profile(0).limit == 12);
  auto p = plan::build("streams:team", {});
  CHECK(p->profile(0).queue_max_wait == seconds(60));
  CHECK(p->profile(0).queue_max_depth == 50);  // auto: 5 x streams
}

TEST_CASE("streams, concurrency and limit name the same pool capacity and the later one wins") {
  CHECK(plan::build("streams", {{"streams", "12", "t"}})->profile(0).limit == 12);
  CHECK(plan::build("exclusive", {{"concurrency", "2", "t"}})->profile(0).limit == 2);
  CHECK(plan::build("streams", {{"streams", "12", "t"}, {"tier", "solo", "t"}})->profile(0).limit == 3);
  CHECK(plan::build("streams", {{"tier", "solo", "t"}, {"limit", "7", "t"}})->profile(0).limit == 7);
}

TEST_CASE("per-account overrides apply to that account only") {
  auto p = plan::build("streams:team", {{"account.acme.tier", "solo", "t"},
                                        {"account.big.corp.streams", "40", "t"},
                                        {"queue.max_wait", "30s", "t"}});
  CHECK(p->profile(p->profile_of("other")).limit == 10);
  CHECK(p->profile(p->profile_of("acme")).limit == 3);
  CHECK(p->profile(p->profile_of("big.corp")).limit == 40);
  CHECK(p->profile(p->profile_of("acme")).queue_max_wait == seconds(30));
}

TEST_CASE("durations accept s, ms, m, h and none") {
  auto wait = [](const std::string& v) {
    return plan::build("streams", {{"queue.max_wait", v, "t"}})->profile(0).queue_max_wait;
  };
  CHECK(wait("45") == seconds(45));
  CHECK(wait("1.5s") == 1'500'000);
  CHECK(wait("250ms") == 250'000);
  CHECK(wait("2m") == seconds(120));
  CHECK(wait("1h") == seconds(3600));
  CHECK(wait("none") == never);
}

TEST_CASE("bad plan input names the place and the setting") {
  auto message = [](const std::string& preset, std::vector<plan::setting> s) -> std::string {
    try {
      plan::build(preset, s);
    } catch (const input_error& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(message("streams", {{"queue.max_wait", "3mins", "plan.ini:7"}}) ==
        "plan.ini:7: queue.max_wait: unknown unit \"mins\" (use s, ms, m or h)");
  CHECK(message("streams", {{"queue.max_depht", "3", "--set"}}) ==
        "--set: queue.max_depht: unknown key (see docs/PLANS.md for every key); did you mean "
        "\"queue.max_depth\"?");
  CHECK(message("streams", {{"account.acme.teir", "solo", "--set"}}) ==
        "--set: account.acme.teir: unknown key (account.NAME.KEY takes an account key, see "
        "docs/PLANS.md); did you mean \"account.acme.tier\"?");
  CHECK(message("streams", {{"burst", "3", "--set"}}).find("did you mean") == std::string::npos);
  CHECK(message("streams", {{"limit", "-3", "--set"}}) ==
        "--set: limit: expected an integer >= 0 or \"none\", got \"-3\"");
  CHECK(message("streams", {{"tier", "gold", "--set"}}) ==
        "--set: tier: expected one of solo, team, platform, got \"gold\"");
  CHECK(message("per-model", {{"priority.max", "1001", "--set"}}) ==
        "--set: priority.max: expected an integer from 0 to 1000, got \"1001\"");
  CHECK(message("stream", {}).find("unknown plan \"stream\"") != std::string::npos);
  CHECK(message("stream", {}).find("; did you mean \"streams\"?") != std::string::npos);
}

TEST_CASE("priority.max: the most a request may ask for, never below its account's priority") {
  auto p = plan::build("per-model", {{"priority", "2", "t"},
                                     {"account.vip.priority", "5", "t"},
                                     {"priority.max", "3", "t"},
                                     {"account.batch.priority.max", "9", "t"}});
  const auto& plain = p->profile(p->profile_of("anyone"));
  CHECK(plain.priority == 2);
  CHECK(plain.priority_max == 3);
  const auto& vip = p->profile(p->profile_of("vip"));
  CHECK(vip.priority == 5);
  CHECK(vip.priority_max == 5);  // a ceiling of 3 does not lower vip's own 5
  const auto& batch = p->profile(p->profile_of("batch"));
  CHECK(batch.priority == 2);
  CHECK(batch.priority_max == 9);
}

TEST_CASE("priority.max defaults to its account's priority") {
  auto p = plan::build("per-model", {{"account.vip.priority", "4", "t"}});
  CHECK(p->profile(p->profile_of("vip")).priority_max == 4);
  CHECK(p->profile(p->profile_of("other")).priority_max == 0);
}
