// "Did you mean": the one suggestion helper behind unknown commands,
// options, presets and plan keys.
#include "policies/closest_match.hpp"

#include <catch2/catch.hpp>

using namespace usher::policies;

TEST_CASE("a typo is matched to the nearest name: a letter changed, added, dropped or swapped") {
  std::vector<std::string> commands = {"simulate", "trace", "compare", "sweep", "advise", "plot"};
  CHECK(closest_match("simulat", commands) == "simulate");
  CHECK(closest_match("simullate", commands) == "simulate");
  CHECK(closest_match("comapre", commands) == "compare");
  CHECK(closest_match("sweeep", commands) == "sweep");
  CHECK(closest_match("Plot", commands) == "plot");
  CHECK(closest_match("tyop", {"typo", "type"}) == "typo");
}

TEST_CASE("nothing is suggested for an exact name, an empty word or one too far from every name") {
  std::vector<std::string> keys = {"limit", "queue.max_wait", "queue.max_depth"};
  CHECK(closest_match("limit", keys).empty());
  CHECK(closest_match("", keys).empty());
  CHECK(closest_match("frobnicate", keys).empty());
  CHECK(closest_match("ab", {"xy"}).empty());
  CHECK(closest_match("limit", {}).empty());
  // Ties go to the name listed first.
  CHECK(closest_match("queue.max_dept", {"queue.max_depth", "queue.max_dept2"}) ==
        "queue.max_depth");
}

TEST_CASE("did_you_mean is the tail of an unknown-name message, or nothing") {
  CHECK(did_you_mean("--tarce", {"--trace", "--plan"}) == "; did you mean \"--trace\"?");
  CHECK(did_you_mean("--zzz", {"--trace", "--plan"}).empty());
}
