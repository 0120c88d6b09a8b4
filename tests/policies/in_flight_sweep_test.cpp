#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <random>

#include "policies/in_flight_sweep.hpp"

using namespace usher::policies;

namespace {

struct by_id {
  bool operator()(std::uint64_t a, std::uint64_t b) const { return a < b; }
};

}  // namespace

TEST_CASE("monotone_queue pops what a binary heap of (key, value) pops, whatever the pushes") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 60; ++round) {
    monotone_queue<std::uint64_t, by_id> q;
    using entry = std::pair<std::uint64_t, std::uint64_t>;  // key, value
    std::priority_queue<entry, std::vector<entry>, std::greater<>> reference;
    std::uint64_t floor = 0;  // the last key popped: pushes mostly start here
    // Spreads from 1 to 2^62 make keys share few or many high bits; a few
    // keys go below the last one popped (late), and many values share a key.
    std::uint64_t spread = std::uint64_t{1} << (round % 63);
    std::uint64_t next_value = 0;
    for (int step = 0; step < 3000; ++step) {
      switch (rng() % 5) {
        case 0:
        case 1: {
          std::uint64_t key = floor + rng() % spread;
          if (rng() % 20 == 0) key = floor - std::min(floor, rng() % spread);  // late
          if (rng() % 4 == 0 && !reference.empty()) key = reference.top().first;  // a tie
          std::uint64_t value = (next_value++ * 7919) % 10007;
          q.push(key, value);
          reference.push({key, value});
          break;
        }
        case 2:
          // A look moves nothing: a push below the key seen may follow.
          if (!reference.empty()) {
            REQUIRE(q.top_key() == reference.top().first);
            REQUIRE(q.top() == reference.top().second);
          }
          break;
        default:
          if (reference.empty()) break;
          REQUIRE(q.top_key() == reference.top().first);
          REQUIRE(q.top() == reference.top().second);
          q.pop();
          floor = reference.top().first;
          reference.pop();
      }
      REQUIRE(q.empty() == reference.empty());
      REQUIRE(q.size() == reference.size());
    }
    while (!reference.empty()) {
      REQUIRE(q.top() == reference.top().second);
      q.pop();
      reference.pop();
    }
    CHECK(q.empty());
  }
}

TEST_CASE("in_flight_sweep's peaks are those of counting every instant, releases first") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 30; ++round) {
    // Outcomes in arrival order, some queued (start after arrival), some
    // ending at once or at another's start; costs 1 to 3.
    std::vector<outcome> outcomes;
    usec at = 0;
    for (std::uint64_t i = 0; i < 300; ++i) {
      at += static_cast<usec>(rng() % 4);
      outcome o;
      o.seq = i;
      o.at = at;
      o.cost = 1 + static_cast<std::int64_t>(rng() % 3);
      if (rng() % 5 != 0) {
        o.start = at + (rng() % 3 == 0 ? static_cast<usec>(rng() % 6) : 0);
        o.end = o.start + static_cast<usec>(rng() % 20);
      }
      outcomes.push_back(o);
    }
    // Brute force: per instant, releases then starts.
    std::map<usec, std::pair<std::int64_t, std::int64_t>> released, started;  // count, units
    for (auto& o : outcomes) {
      if (o.start < 0) continue;
      started[o.start].first += 1;
      started[o.start].second += o.cost;
      released[o.end].first += 1;
      released[o.end].second += o.cost;
    }
    std::int64_t n = 0, units = 0, peak_n = 0, peak_units = 0;
    std::map<usec, int> instants;
    for (auto& [t, v] : released) instants[t];
    for (auto& [t, v] : started) instants[t];
    for (auto& [t, unused] : instants) {
      n -= released[t].first;
      units -= released[t].second;
      n += started[t].first;
      units += started[t].second;
      peak_n = std::max(peak_n, n);
      peak_units = std::max(peak_units, units);
    }

    in_flight_sweep sweep;
    std::int64_t changes = 0;
    for (auto& o : outcomes) {
      sweep.add(o);
      sweep.advance(o.at, [&](usec, int d, std::int64_t) { changes += d; });
    }
    sweep.advance(never, [&](usec, int d, std::int64_t) { changes += d; });
    CHECK(sweep.peak_in_flight() == peak_n);
    CHECK(sweep.peak_used() == peak_units);
    CHECK(changes == 0);  // every start was matched by its release
  }
}
