// The session-rate seed's autoscaling, window by window.
#include <catch2/catch.hpp>

#include "policies/session_rate_gate.hpp"

using namespace usher::policies;

namespace {
// Opens `n` sessions in the window that starts at `start` (as many as fit).
int open(session_rate_gate& g, usec start, int n) {
  int opened = 0;
  for (int i = 0; i < n; ++i)
    if (g.fits(start + i)) {
      g.charge();
      ++opened;
    }
  return opened;
}
}  // namespace

TEST_CASE("session rate scales up 10 % per window while usage is at least 70 % of the cap") {
  session_rate_params p;
  p.per_window = 100;
  session_rate_gate g(p);
  CHECK(open(g, 0, 150) == 100);  // capped at the default
  CHECK(g.cap(seconds(60)) == 110);
  CHECK(open(g, seconds(60), 77) == 77);  // exactly 70 % of 110
  CHECK(g.cap(seconds(120)) == 121);
  CHECK(open(g, seconds(120), 200) == 121);
  CHECK(g.cap(seconds(180)) == 133);
}

TEST_CASE("session rate holds between 50 % and 70 % and steps down below 50 %, never under the default") {
  session_rate_params p;
  p.per_window = 100;
  session_rate_gate g(p);
  open(g, 0, 100);
  open(g, seconds(60), 110);
  REQUIRE(g.cap(seconds(120)) == 121);
  open(g, seconds(120), 70);  // 57.8 %: hold
  CHECK(g.cap(seconds(180)) == 121);
  open(g, seconds(180), 10);  // under 50 %: down by 10 % of 121 = 12
  CHECK(g.cap(seconds(240)) == 109);
  // Idle windows keep stepping down until the default.
  CHECK(g.cap(seconds(300)) == 100);
  CHECK(g.cap(seconds(3600)) == 100);
}

TEST_CASE("session rate: a small cap still grows by at least one") {
  session_rate_params p;
  p.per_window = 3;
  session_rate_gate g(p);
  open(g, 0, 3);
  CHECK(g.cap(seconds(60)) == 4);
}

TEST_CASE("session rate: long idle gaps cost nothing and leave the default in force") {
  session_rate_params p;
  p.per_window = 5;
  session_rate_gate g(p);
  CHECK(g.fits(seconds(86400) * 365));
  CHECK(g.cap(seconds(86400) * 365) == 5);
}
