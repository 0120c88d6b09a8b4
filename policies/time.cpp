#include "policies/time.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include "policies/input_error.hpp"

namespace usher::policies {

bool parse_seconds(std::string_view text, usec& out) {
  if (text.empty()) return false;
  std::size_t i = 0;
  std::int64_t whole = 0;
  bool any_digit = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (whole > (never / usec_per_second - 10) / 10) return false;
    whole = whole * 10 + (text[i] - '0');
    any_digit = true;
  }
  std::int64_t frac = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    int digits = 0;
    bool round_up = false;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      any_digit = true;
      if (digits < 6)
        frac = frac * 10 + (text[i] - '0');
      else if (digits == 6)
        round_up = text[i] >= '5';
    }
    for (; digits < 6; ++digits) frac *= 10;
    if (round_up) ++frac;
  }
  if (!any_digit || i != text.size()) return false;
  out = whole * usec_per_second + frac;
  return true;
}

std::string seconds_error(std::string_view text) {
  bool number = !text.empty() && text.find_first_not_of("0123456789.") == std::string_view::npos &&
                text.find_first_of("0123456789") != std::string_view::npos &&
                std::count(text.begin(), text.end(), '.') <= 1;
  return (number ? "expected at most " + std::to_string(longest_time / usec_per_second) + " seconds, got "
                 : std::string("expected a non-negative number of seconds, got ")) +
         quoted(std::string(text));
}

bool parse_duration(std::string_view text, usec& out, bool& unit_error) {
  unit_error = false;
  usec num = 1, den = 1;
  auto digits_end = text.find_first_not_of("0123456789.");
  if (digits_end != std::string_view::npos) {
    auto unit = text.substr(digits_end);
    if (unit == "s") {
    } else if (unit == "ms") {
      den = 1000;
    } else if (unit == "m" || unit == "min") {
      num = 60;
    } else if (unit == "h") {
      num = 3600;
    } else {
      unit_error = digits_end > 0;
      return false;
    }
    text = text.substr(0, digits_end);
  }
  usec t = 0;
  if (!parse_seconds(text, t) || t > longest_time / num) return false;
  out = t * num / den;
  return true;
}

void append_seconds(std::string& out, usec t) {
  if (t < 0) {
    out.push_back('-');
    t = -t;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), t / usec_per_second);
  out.append(buf, res.ptr);
  auto frac = t % usec_per_second;
  if (frac == 0) return;
  char digits[7] = {'0', '0', '0', '0', '0', '0', 0};
  for (int k = 5; k >= 0; --k, frac /= 10) digits[k] = static_cast<char>('0' + frac % 10);
  int len = 6;
  while (digits[len - 1] == '0') --len;
  out.push_back('.');
  out.append(digits, static_cast<std::size_t>(len));
}

std::string format_seconds(usec t) {
  std::string s;
  append_seconds(s, t);
  return s;
}

}  // namespace usher::policies
