// queue_gate against a plain model: a list kept in the documented order
// (highest level first, arrival order within a level), searched in full for
// every question. Random pushes, pops, timeouts and removals of up to five
// levels; after each step the head, the oldest, the depth and the whole
// order must agree.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "policies/queue_gate.hpp"

using namespace usher::policies;

namespace {

struct modelled {
  std::int16_t level;
  usec arrival;
  std::uint64_t seq;
};

// The model: stand behind every waiter of a level at or above yours.
void model_push(std::vector<modelled>& m, modelled w) {
  auto at = std::find_if(m.begin(), m.end(), [&](const modelled& x) { return x.level < w.level; });
  m.insert(at, w);
}

std::size_t model_oldest(const std::vector<modelled>& m) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < m.size(); ++i)
    if (m[i].arrival < m[best].arrival || (m[i].arrival == m[best].arrival && m[i].seq < m[best].seq)) best = i;
  return best;
}

std::vector<std::uint64_t> order_of(const queue_gate& q) {
  std::vector<std::uint64_t> out;
  q.each([&](const queue_gate::entry& e) { out.push_back(e.req.seq); });
  return out;
}

}  // namespace

TEST_CASE("queue_gate: head, oldest and order agree with a plain model under random use") {
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    const int levels = 1 + static_cast<int>(seed % 5);  // seeds with one level too
    queue_gate q(queue_gate::unbounded, 10);
    std::vector<modelled> m;
    usec now = 0;
    std::uint64_t seq = 0;
    for (int step = 0; step < 400; ++step) {
      now += static_cast<usec>(rng() % 3);  // same-instant arrivals: seq breaks the tie
      unsigned what = rng() % 10;
      if (what < 5 || m.empty()) {
        request r;
        r.seq = ++seq;
        auto level = static_cast<std::int16_t>(rng() % static_cast<unsigned>(levels));
        r.priority = -1;  // as asked: the queue keeps the level it waits at
        bool at_head = q.push(r, level, now, r.seq);
        model_push(m, modelled{level, now, r.seq});
        CHECK(at_head == (m.front().seq == r.seq));
      } else if (what < 7) {
        CHECK(q.pop().req.seq == m.front().seq);
        m.erase(m.begin());
      } else if (what < 9) {
        std::size_t o = model_oldest(m);
        auto e = q.pop_oldest();
        CHECK(e.req.seq == m[o].seq);
        CHECK(e.deadline == m[o].arrival + 10);
        m.erase(m.begin() + static_cast<std::ptrdiff_t>(o));
      } else {
        std::size_t i = rng() % m.size();
        CHECK(q.remove(m[i].seq));
        m.erase(m.begin() + static_cast<std::ptrdiff_t>(i));
        CHECK_FALSE(q.remove(seq + 1));  // a tag never given
      }
      REQUIRE(q.depth() == m.size());
      REQUIRE(q.empty() == m.empty());
      std::vector<std::uint64_t> expected;
      for (const auto& x : m) expected.push_back(x.seq);
      REQUIRE(order_of(q) == expected);
      if (!m.empty()) {
        CHECK(q.head().req.seq == m.front().seq);
        CHECK(q.head().req.priority == m.front().level);
        CHECK(q.oldest().req.seq == m[model_oldest(m)].seq);
      }
    }
  }
}

TEST_CASE("queue_gate: max_depth counts waiters of every level") {
  queue_gate q(2, never);
  request r;
  r.priority = 0;
  REQUIRE(q.has_room());
  q.push(r, r.priority, 0, 1);
  r.priority = 3;
  CHECK(q.push(r, r.priority, 0, 2));  // a higher level stands at the head
  CHECK_FALSE(q.has_room());
  q.pop();
  CHECK(q.has_room());
  CHECK(q.head().tag == 1);
}
