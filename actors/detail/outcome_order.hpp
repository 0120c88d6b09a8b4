#pragma once
/// Puts the outcomes the account actors send back, in whatever order they
/// decide them, into the order outputs are written: (arrival, seq).
///
/// Trace rows are read in that order already, so each one's outcome has a
/// place waiting for it: a ring of the rows read and not yet written, in read
/// order. Writing is popping the ring's head while it is filled, which costs
/// no comparisons; a heap of 88-byte outcomes (what this replaced) cost two
/// sift paths per row and was an eighth of a replay's time. Generated
/// attempts (seq with generated_seq_bit) are not read from the trace, so they
/// wait in a small heap and are merged in by (arrival, seq).
///
/// A row's place is found from its seq: at its distance from the head's seq
/// when the rows read are numbered without gaps (one replay of a whole trace),
/// else by a binary search of the seqs read (a shard of `simulate --threads N`
/// reads only its accounts' rows).

#include <cstddef>
#include <cstdint>
#include <queue>
#include <vector>

#include "policies/records.hpp"

namespace usher::actors::detail {

class outcome_order {
 public:
  /// A trace row was read: its outcome will be written in this place.
  void expect(std::uint64_t seq);

  /// An outcome arrived from an account actor. False when it answers a row
  /// not waiting for one (never read, or written already): a bug upstream.
  [[nodiscard]] bool add(const policies::outcome& o);

  /// Hands `write` every outcome that arrived before `decided` (`never`: all
  /// of them), in (arrival, seq) order. Correct as long as every outcome of
  /// an arrival before `decided` has been added.
  template <class Write>
  void flush(policies::usec decided, Write&& write) {
    for (;;) {
      const policies::outcome* row = head_filled() ? &slot(head_) : nullptr;
      const policies::outcome* gen = generated_.empty() ? nullptr : &generated_.top();
      bool take_row = row && (!gen || before(*row, *gen));
      const policies::outcome* next = take_row ? row : gen;
      // An unfilled head arrived at or after `decided`: nothing behind it,
      // and no generated attempt after it, may be written yet.
      if (!next || next->at >= decided) return;
      write(*next);
      if (take_row) {
        filled_[head_ & mask_] = 0;
        ++head_;
      } else {
        generated_.pop();
      }
    }
  }

  /// Rows read whose outcome has not been written.
  [[nodiscard]] std::size_t rows_waiting() const { return tail_ - head_; }

 private:
  static bool before(const policies::outcome& a, const policies::outcome& b) {
    return a.at != b.at ? a.at < b.at : a.seq < b.seq;
  }
  struct later {
    bool operator()(const policies::outcome& a, const policies::outcome& b) const { return before(b, a); }
  };

  [[nodiscard]] bool head_filled() const { return head_ != tail_ && filled_[head_ & mask_]; }
  policies::outcome& slot(std::uint64_t place) { return slots_[place & mask_]; }
  /// The place of the row read with `seq`; tail_ when none waits.
  std::uint64_t place_of(std::uint64_t seq) const;
  void grow();

  // Places are counted from the first row read; place p lives at p & mask_.
  std::vector<policies::outcome> slots_;
  std::vector<std::uint64_t> seqs_;  ///< the seq read at each place
  std::vector<std::uint8_t> filled_;
  std::uint64_t mask_ = 0;
  std::uint64_t head_ = 0;  ///< the first place not written
  std::uint64_t tail_ = 0;  ///< the next place to be read
  std::priority_queue<policies::outcome, std::vector<policies::outcome>, later> generated_;
};

}  // namespace usher::actors::detail
