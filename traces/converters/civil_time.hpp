#pragma once
/// Wall-clock timestamps in source traces ("2024-11-15 16:57:50",
/// "2023-11-16 18:17:03.9799600") as integer microseconds since
/// 1970-01-01 00:00:00 of the same (unstated) zone: converters only ever
/// subtract two of them, so the zone cancels. Fractions past the sixth
/// digit round half up, as policies::parse_seconds does.

#include <cstdint>
#include <string_view>

#include "policies/time.hpp"

namespace usher::traces {

/// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
/// (H. Hinnant's days_from_civil).
[[nodiscard]] constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// Parses "YYYY-MM-DD HH:MM:SS" with an optional fraction of a second (a
/// 'T' may stand for the space). Returns false for anything else.
[[nodiscard]] inline bool parse_civil_time(std::string_view s, policies::usec& out) {
  auto digits = [&](std::size_t at, std::size_t n, unsigned& v) {
    if (at + n > s.size()) return false;
    v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return true;
  };
  unsigned y, mo, d, h, mi;
  if (s.size() < 19 || !digits(0, 4, y) || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' ||
      !digits(8, 2, d) || (s[10] != ' ' && s[10] != 'T') || !digits(11, 2, h) || s[13] != ':' ||
      !digits(14, 2, mi) || s[16] != ':')
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59) return false;
  policies::usec sec = 0;
  if (!policies::parse_seconds(s.substr(17), sec) || sec >= policies::seconds(61)) return false;
  out = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * policies::usec_per_second + sec;
  return true;
}

}  // namespace usher::traces
