#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "actors/detail/outcome_order.hpp"

using namespace usher::policies;
using usher::actors::detail::outcome_order;

namespace {

bool in_output_order(const outcome& a, const outcome& b) {
  return a.at != b.at ? a.at < b.at : a.seq < b.seq;
}

}  // namespace

TEST_CASE("outcome_order writes outcomes decided in any order in (arrival, seq) order") {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 40; ++round) {
    // Trace rows with gaps in their seqs on odd rounds (a shard's rows),
    // and generated attempts between them on every third round.
    std::vector<outcome> rows, all;
    usec at = 0;
    std::uint64_t seq = 5;
    for (int i = 0; i < 500; ++i) {
      at += static_cast<usec>(rng() % 3);
      seq += (round % 2) ? 1 + rng() % 4 : 1;
      outcome o;
      o.seq = seq;
      o.at = at;
      rows.push_back(o);
      all.push_back(o);
      if (round % 3 == 0 && rng() % 4 == 0) {
        outcome g;
        g.seq = generated_seq_bit | (std::uint64_t{rng() % 3} << 40) | static_cast<std::uint64_t>(i);
        g.at = at + static_cast<usec>(rng() % 2);
        all.push_back(g);
      }
    }
    std::sort(all.begin(), all.end(), in_output_order);

    // Decide each outcome at a random delay after its arrival, and flush up
    // to the earliest arrival not yet decided, as the account actors report.
    std::vector<std::pair<usec, std::size_t>> decided_at;
    for (std::size_t i = 0; i < all.size(); ++i) decided_at.emplace_back(all[i].at + static_cast<usec>(rng() % 40), i);
    std::sort(decided_at.begin(), decided_at.end());

    outcome_order order;
    std::size_t read = 0;
    std::vector<outcome> written;
    std::vector<bool> done(all.size());
    std::size_t first_undone = 0;
    for (auto& [when, i] : decided_at) {
      // The client reads rows ahead of what is decided.
      while (read < rows.size() && rows[read].at <= when + 10) order.expect(rows[read++].seq);
      REQUIRE(order.add(all[i]));
      done[i] = true;
      while (first_undone < all.size() && done[first_undone]) ++first_undone;
      usec decided = first_undone < all.size() ? all[first_undone].at : never;
      order.flush(decided, [&](const outcome& o) { written.push_back(o); });
    }
    while (read < rows.size()) order.expect(rows[read++].seq);  // none left in practice
    order.flush(never, [&](const outcome& o) { written.push_back(o); });
    REQUIRE(written.size() == all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      INFO("round " << round << ", row " << i);
      CHECK(written[i].seq == all[i].seq);
    }
    CHECK(order.rows_waiting() == 0);
  }
}

TEST_CASE("outcome_order refuses an outcome no row waits for") {
  outcome_order order;
  order.expect(10);
  order.expect(12);
  outcome o;
  o.seq = 11;  // never read
  CHECK_FALSE(order.add(o));
  o.seq = 12;
  CHECK(order.add(o));
  CHECK_FALSE(order.add(o));  // twice
  o.seq = 10;
  o.at = 0;
  CHECK(order.add(o));
  std::vector<std::uint64_t> written;
  order.flush(never, [&](const outcome& w) { written.push_back(w.seq); });
  CHECK(written == std::vector<std::uint64_t>{10, 12});
  CHECK_FALSE(order.add(o));  // written already
}
