#pragma once
/// Time in usher: integer microseconds, never floating point.
///
/// Policies never read a clock; every call takes `now` as a `usec`. In a
/// simulation `usec` counts from the start of the trace; in a live node it
/// counts from the node's epoch. At one instant the order of events is fixed
/// and the same in both clocks: releases first (a slot that frees at t serves
/// the queue at t), then queue admissions, then queue timeouts, then new
/// arrivals, each class in arrival (sequence) order.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace usher::policies {

using usec = std::int64_t;

/// A time later than any event: "never" or "no deadline".
constexpr usec never = std::numeric_limits<usec>::max();

constexpr usec usec_per_second = 1'000'000;

constexpr usec seconds(std::int64_t s) { return s * usec_per_second; }

/// The largest time or duration a replay takes (a trace's arrival_s and
/// duration_s, a plan's or workload's duration): 10^12 s, some 31,700 years.
/// Sums of a few of them (an arrival, its duration, a queue's wait) stay far
/// below `never`, so no addition in a replay can overflow.
constexpr usec longest_time = seconds(1'000'000'000'000);

/// Parses a non-negative decimal number of seconds ("12", "0.25", "3.000001")
/// into microseconds, exactly: digits past the sixth decimal are rounded half
/// up. Returns false for anything else (signs, exponents, empty, overflow).
/// Converters read larger numbers (epoch milliseconds) and scale them;
/// what a replay reads is held to longest_time besides.
[[nodiscard]] bool parse_seconds(std::string_view text, usec& out);

/// Why `text` was refused as a time, for a message after the place:
/// "expected a non-negative number of seconds, got "x"", or for a number
/// (over longest_time) "expected at most 1000000000000 seconds, got "..."".
std::string seconds_error(std::string_view text);

/// Parses a duration as users write it in plans and workloads: decimal
/// seconds with an optional unit s, ms, m (or min) or h ("60", "1.5s",
/// "250ms", "2m"). Returns false for anything else; `unit_error` is set when
/// the number was fine but the unit unknown.
[[nodiscard]] bool parse_duration(std::string_view text, usec& out, bool& unit_error);

/// Formats microseconds as decimal seconds without trailing zeros
/// ("12", "0.25"): the inverse of parse_seconds, so output re-reads exactly.
std::string format_seconds(usec t);

/// Appends the format_seconds text to `out` (the allocation-free hot path).
void append_seconds(std::string& out, usec t);

}  // namespace usher::policies
