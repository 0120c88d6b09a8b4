// Access-log times and durations: nginx $time_local, ISO 8601 with zones,
// epoch seconds and milliseconds, all to the same instant.
#include "traces/converters/log_time.hpp"

#include <catch2/catch.hpp>

using namespace usher::traces;
using usher::policies::usec;

TEST_CASE("one instant written in every log time form reads as the same microsecond") {
  const usec expected = 1696946136310000;  // 2023-10-10 13:55:36.310 UTC
  struct example {
    const char* text;
    log_time_format format;
  };
  for (auto ex : {example{"[10/Oct/2023:15:55:36.310 +0200]", log_time_format::clf},
                  example{"10/Oct/2023:06:55:36.310 -0700", log_time_format::automatic},
                  example{"2023-10-10T13:55:36.310Z", log_time_format::iso8601},
                  example{"2023-10-10T15:55:36.310+02:00", log_time_format::automatic},
                  example{"2023-10-10 11:25:36,310-0230", log_time_format::automatic},
                  example{"1696946136.310", log_time_format::automatic},
                  example{"1696946136310", log_time_format::epoch_ms}}) {
    INFO(ex.text);
    usec t = 0;
    CHECK(parse_log_time(ex.text, ex.format, t));
    CHECK(t == expected);
  }
}

TEST_CASE("malformed log times are refused") {
  usec t = 0;
  for (auto text : {"", "10/Oct/2023", "10/Okt/2023:13:55:36 +0000", "10/Oct/2023:25:55:36 +0000",
                    "2023-10-10T13:55:36+25:00", "2023-10-10T13:55:36 UTC", "-5", "1e9"}) {
    INFO(text);
    CHECK_FALSE(parse_log_time(text, log_time_format::automatic, t));
  }
}

TEST_CASE("log durations read in the log's unit or their own") {
  usec d = 0;
  CHECK(parse_log_duration("0.250", 1, d));
  CHECK(d == 250000);
  CHECK(parse_log_duration("1500", 1000, d));
  CHECK(d == 1500000);
  CHECK(parse_log_duration("120ms", 1, d));
  CHECK(d == 120000);
  CHECK(parse_log_duration("7", 1000000, d));
  CHECK(d == 7);
  CHECK_FALSE(parse_log_duration("-", 1, d));
  CHECK_FALSE(parse_log_duration("-1", 1, d));
  CHECK_FALSE(parse_log_duration("3 weeks", 1, d));
}
