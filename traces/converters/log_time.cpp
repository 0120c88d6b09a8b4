#include "traces/converters/log_time.hpp"

#include <array>
#include <cstdint>

#include "traces/converters/civil_time.hpp"

namespace usher::traces {

using policies::usec;

namespace {

bool digits(std::string_view s, std::size_t at, std::size_t n, unsigned& v) {
  if (at + n > s.size()) return false;
  v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

// "Z", "+02:00", "+0200" or "-07" as seconds east of UTC.
bool parse_zone(std::string_view z, std::int64_t& east) {
  if (z == "Z" || z == "z") {
    east = 0;
    return true;
  }
  if (z.size() < 3 || (z[0] != '+' && z[0] != '-')) return false;
  unsigned h = 0, m = 0;
  if (!digits(z, 1, 2, h)) return false;
  auto rest = z.substr(3);
  if (!rest.empty() && rest[0] == ':') rest.remove_prefix(1);
  if (!rest.empty() && (rest.size() != 2 || !digits(rest, 0, 2, m))) return false;
  if (h > 23 || m > 59) return false;
  east = (z[0] == '-' ? -1 : 1) * static_cast<std::int64_t>(h * 3600 + m * 60);
  return true;
}

bool parse_iso8601(std::string_view s, usec& out) {
  // The zone starts after the seconds and their fraction.
  std::size_t end = 19;
  if (end < s.size() && (s[end] == '.' || s[end] == ',')) {
    ++end;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
  }
  if (s.size() < 19) return false;
  std::int64_t east = 0;
  if (end < s.size() && !parse_zone(s.substr(end), east)) return false;
  std::string local(s.substr(0, end));
  if (local.size() > 19 && local[19] == ',') local[19] = '.';
  if (!parse_civil_time(local, out)) return false;
  out -= east * policies::usec_per_second;
  return true;
}

bool parse_clf(std::string_view s, usec& out) {
  if (!s.empty() && s.front() == '[') s.remove_prefix(1);
  if (!s.empty() && s.back() == ']') s.remove_suffix(1);
  // 10/Oct/2000:13:55:36 -0700
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  unsigned d = 0, y = 0, h = 0, mi = 0, sec = 0, mo = 0;
  if (s.size() < 20 || !digits(s, 0, 2, d) || s[2] != '/' || s[6] != '/' || !digits(s, 7, 4, y) ||
      s[11] != ':' || !digits(s, 12, 2, h) || s[14] != ':' || !digits(s, 15, 2, mi) ||
      s[17] != ':' || !digits(s, 18, 2, sec))
    return false;
  while (mo < 12 && s.substr(3, 3) != months[mo]) ++mo;
  if (mo == 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  usec fraction = 0;
  std::size_t at = 20;
  if (at < s.size() && s[at] == '.') {  // some servers log milliseconds
    std::size_t end = at + 1;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    if (!policies::parse_seconds(std::string("0") + std::string(s.substr(at, end - at)), fraction))
      return false;
    at = end;
  }
  std::int64_t east = 0;
  if (at < s.size()) {
    if (s[at] != ' ' || !parse_zone(s.substr(at + 1), east)) return false;
  }
  out = (days_from_civil(y, mo + 1, d) * 86400 + h * 3600 + mi * 60 + sec - east) *
            policies::usec_per_second +
        fraction;
  return true;
}

}  // namespace

bool parse_log_time(std::string_view text, log_time_format format, usec& out) {
  if (format == log_time_format::automatic)
    format = text.find('/') != std::string_view::npos   ? log_time_format::clf
             : text.find('-') != std::string_view::npos ? log_time_format::iso8601
                                                        : log_time_format::epoch;
  switch (format) {
    case log_time_format::clf:
      return parse_clf(text, out);
    case log_time_format::iso8601:
      return parse_iso8601(text, out);
    case log_time_format::epoch:
      return policies::parse_seconds(text, out);
    case log_time_format::epoch_ms:
      if (!policies::parse_seconds(text, out)) return false;
      out /= 1000;
      return true;
    case log_time_format::automatic:
      break;
  }
  return false;
}

bool parse_log_duration(std::string_view text, long unit_per_second, usec& out) {
  if (policies::parse_seconds(text, out)) {
    out /= unit_per_second;
    return true;
  }
  bool unit_error = false;
  return !text.empty() && text.back() >= 'a' && text.back() <= 'z' &&
         policies::parse_duration(text, out, unit_error);
}

}  // namespace usher::traces
