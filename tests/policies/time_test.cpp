#include <catch2/catch.hpp>

#include "policies/time.hpp"

using namespace usher::policies;

TEST_CASE("decimal seconds parse exactly into microseconds") {
  usec t = -1;
  CHECK((parse_seconds("12", t) && t == 12'000'000));
  CHECK((parse_seconds("0.25", t) && t == 250'000));
  CHECK((parse_seconds("3.000001", t) && t == 3'000'001));
  CHECK((parse_seconds(".5", t) && t == 500'000));
  CHECK((parse_seconds("1.0000005", t) && t == 1'000'001));  // rounds half up
  CHECK((parse_seconds("1.00000049", t) && t == 1'000'000));
  for (const char* bad : {"", "-1", "+1", "1e3", "abc", "1.2.3", " 1", "."}) {
    INFO(bad);
    CHECK_FALSE(parse_seconds(bad, t));
  }
  CHECK_FALSE(parse_seconds("99999999999999999999", t));
}

TEST_CASE("formatted seconds read back to the same microseconds") {
  for (usec v : {usec{0}, usec{1}, usec{999'999}, usec{1'000'000}, usec{12'345'678'901}}) {
    usec back = -1;
    REQUIRE(parse_seconds(format_seconds(v), back));
    CHECK(back == v);
  }
  CHECK(format_seconds(2'500'000) == "2.5");
  CHECK(format_seconds(60'000'000) == "60");
}

TEST_CASE("durations past the longest time a replay takes are refused, and the message says so") {
  usec t = -1;
  bool unit_error = false;
  CHECK((parse_duration("1000000000000", t, unit_error) && t == longest_time));
  CHECK_FALSE(parse_duration("1000000000000.5", t, unit_error));
  CHECK_FALSE(parse_duration("277777778h", t, unit_error));  // just over 10^12 s
  CHECK((parse_duration("277777777h", t, unit_error) && t <= longest_time));
  CHECK(seconds_error("9000000000000") == "expected at most 1000000000000 seconds, got \"9000000000000\"");
  CHECK(seconds_error("-3") == "expected a non-negative number of seconds, got \"-3\"");
  CHECK(seconds_error("1.2.3") == "expected a non-negative number of seconds, got \"1.2.3\"");
}
