// The replay benchmark's yardstick: the streams model as a plain
// priority-queue event loop (bench/plain_loop.hpp).

#include "bench/plain_loop.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#endif
#include <libfccp/csv.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace usher::bench {

plain_loop::plain_loop(std::uint32_t accounts, int streams, int depth, std::int64_t max_wait_us)
    : streams_(streams), depth_(depth), max_wait_(max_wait_us), accounts_(accounts) {}

void plain_loop::start(account_state& a, std::uint32_t account, std::uint64_t seq,
                       std::int64_t now, std::int64_t duration) {
  ++a.busy;
  ++counts_.ok;
  events_.push(event{now + duration, seq, account, release_class});
}

void plain_loop::drain(std::int64_t until) {
  // Events at the arrival's own instant run before it: releases (each
  // serving its queue's head at once), then timeouts.
  while (!events_.empty() && events_.top().at <= until) {
    event e = events_.top();
    events_.pop();
    auto& a = accounts_[e.account];
    if (e.cls == release_class) {
      --a.busy;
      if (a.size > 0) {
        waiter w = a.ring[a.head];
        a.head = (a.head + 1) & 63;
        --a.size;
        counts_.wait_sum += e.at - w.at;
        start(a, e.account, w.seq, e.at, w.duration);
      }
    } else if (a.size > 0 && a.ring[a.head].seq == e.seq) {
      // Still waiting at its deadline: FIFO with one max_wait makes it the head.
      counts_.wait_sum += e.at - a.ring[a.head].at;
      a.head = (a.head + 1) & 63;
      --a.size;
      ++counts_.timeouts;
    }
  }
}

void plain_loop::arrive(std::int64_t at, std::uint32_t account, std::int64_t duration) {
  drain(at);
  if (account >= accounts_.size()) accounts_.resize(account + 1);
  std::uint64_t seq = seq_++;
  ++counts_.requests;
  auto& a = accounts_[account];
  if (a.busy < streams_ && a.size == 0) {
    start(a, account, seq, at, duration);
  } else if (static_cast<int>(a.size) < depth_) {
    a.ring[(a.head + a.size) & 63] = waiter{seq, at, duration};
    ++a.size;
    ++counts_.queued;
    events_.push(event{at + max_wait_, seq, account, timeout_class});
  } else {
    ++counts_.rejected;
  }
}

loop_counts run_plain_arrays(const std::vector<std::int64_t>& at,
                             const std::vector<std::int64_t>& duration,
                             const std::vector<std::uint32_t>& account, std::uint32_t accounts,
                             int streams, int depth, std::int64_t max_wait_us) {
  plain_loop loop(accounts, streams, depth, max_wait_us);
  for (std::size_t i = 0; i < at.size(); ++i) loop.arrive(at[i], account[i], duration[i]);
  loop.finish();
  return loop.counts();
}

namespace {

// Decimal seconds to microseconds, as usher's parse_seconds does it.
bool to_us(const char* s, std::int64_t& out) {
  if (s == nullptr || *s == 0) return false;
  std::int64_t whole = 0, frac = 0;
  for (; *s >= '0' && *s <= '9'; ++s) whole = whole * 10 + (*s - '0');
  int digits = 0;
  if (*s == '.') {
    for (++s; *s >= '0' && *s <= '9'; ++s, ++digits)
      if (digits < 6) frac = frac * 10 + (*s - '0');
  }
  for (; digits < 6; ++digits) frac *= 10;
  out = whole * 1000000 + frac;
  return *s == 0;
}

}  // namespace

loop_counts run_plain_csv(const std::string& path, bool simulate, int streams, int depth,
                          std::int64_t max_wait_us) {
  // The parser policies usher's trace reader uses.
  io::CSVReader<3, io::trim_chars<' ', '\t'>, io::double_quote_escape<',', '"'>,
                io::throw_on_overflow, io::empty_line_comment>
      in(path);
  in.read_header(io::ignore_extra_column, "arrival_s", "account", "duration_s");
  std::unordered_map<std::string, std::uint32_t> ids;
  plain_loop loop(0, streams, depth, max_wait_us);
  loop_counts parsed;
  char *at_s = nullptr, *account_s = nullptr, *duration_s = nullptr;
  std::string name;
  std::int64_t checksum = 0;
  while (in.read_row(at_s, account_s, duration_s)) {
    std::int64_t at = 0, duration = 0;
    if (!to_us(at_s, at) || !to_us(duration_s, duration))
      throw std::runtime_error(path + ":" + std::to_string(in.get_file_line()) + ": bad number");
    name.assign(account_s);
    auto [it, added] = ids.try_emplace(name, static_cast<std::uint32_t>(ids.size()));
    if (simulate) {
      loop.arrive(at, it->second, duration);
    } else {
      ++parsed.requests;
      checksum += at ^ duration ^ it->second;  // keeps the parse from being optimized away
    }
  }
  if (!simulate) {
    parsed.wait_sum = checksum;
    return parsed;
  }
  loop.finish();
  return loop.counts();
}

}  // namespace usher::bench
