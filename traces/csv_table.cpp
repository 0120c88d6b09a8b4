#include "traces/csv_table.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "policies/input_error.hpp"

namespace usher::traces {

using policies::input_error;
using policies::quoted;

csv_table::csv_table(const std::string& path) : in_(path) {
  std::string_view line;
  do {
    if (!in_.next(line)) throw input_error::in(path, "the header line is missing");
  } while (line.empty());
  split(line);
  for (auto f : fields_) header_.emplace_back(f);
}

int csv_table::find(std::string_view name) const {
  for (std::size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return static_cast<int>(i);
  return -1;
}

int csv_table::require(std::string_view name, std::string_view expected) const {
  int i = find(name);
  if (i < 0)
    throw input_error::at(path(), 1, "column '" + std::string(name) + "'",
                          "missing from the header (" + std::string(expected) + ")");
  return i;
}

bool csv_table::next() {
  std::string_view line;
  do {
    if (!in_.next(line)) return false;
  } while (line.empty());
  split(line);
  if (fields_.size() < header_.size())
    throw input_error::at(path(), this->line(), "",
                          "too few columns: " + std::to_string(fields_.size()) + " of " +
                              std::to_string(header_.size()));
  return true;
}

void csv_table::split(std::string_view line) {
  fields_.clear();
  if (line.find('"') == std::string_view::npos) {
    std::size_t start = 0;
    for (;;) {
      auto comma = line.find(',', start);
      fields_.push_back(line.substr(start, comma - start));
      if (comma == std::string_view::npos) return;
      start = comma + 1;
    }
  }
  // Quoted fields: unquote into storage that never reallocates mid-row.
  unquoted_.assign(1, std::string());
  auto& arena = unquoted_.front();
  arena.reserve(line.size());
  std::size_t i = 0;
  for (;;) {
    if (i < line.size() && line[i] == '"') {
      std::size_t from = arena.size();
      for (++i; i < line.size(); ++i) {
        if (line[i] != '"') {
          arena.push_back(line[i]);
        } else if (i + 1 < line.size() && line[i + 1] == '"') {
          arena.push_back('"');
          ++i;
        } else {
          ++i;
          break;
        }
      }
      fields_.emplace_back(arena.data() + from, arena.size() - from);
      auto comma = line.find(',', i);  // text after the closing quote is dropped
      if (comma == std::string_view::npos) return;
      i = comma + 1;
    } else {
      auto comma = line.find(',', i);
      fields_.push_back(line.substr(i, comma - i));
      if (comma == std::string_view::npos) return;
      i = comma + 1;
    }
  }
}

std::string_view csv_table::text(int index) const {
  if (index < 0 || static_cast<std::size_t>(index) >= fields_.size()) return {};
  auto t = fields_[static_cast<std::size_t>(index)];
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return t;
}

void csv_table::fail(int index, const std::string& message) const {
  std::string column = index >= 0 && static_cast<std::size_t>(index) < header_.size()
                           ? "column '" + header_[static_cast<std::size_t>(index)] + "'"
                           : std::string();
  throw input_error::at(path(), line(), column, message);
}

policies::usec csv_table::seconds(int index) const {
  policies::usec t = 0;
  auto s = text(index);
  if (!policies::parse_seconds(s, t))
    fail(index, policies::seconds_error(s));
  return t;
}

std::int64_t csv_table::count(int index) const {
  auto s = text(index);
  std::int64_t n = 0;
  auto res = std::from_chars(s.data(), s.data() + s.size(), n);
  if (res.ec == std::errc() && res.ptr == s.data() + s.size() && n >= 0) return n;
  double d = 0;
  auto resd = std::from_chars(s.data(), s.data() + s.size(), d);
  if (!s.empty() && resd.ec == std::errc() && resd.ptr == s.data() + s.size() && d >= 0 &&
      d <= 9e15 && d == std::floor(d))
    return static_cast<std::int64_t>(d);
  fail(index, "expected a non-negative integer, got " + quoted(std::string(s)));
}

double csv_table::number(int index, double min) const {
  auto s = text(index);
  double d = 0;
  auto res = std::from_chars(s.data(), s.data() + s.size(), d);
  if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size() || !std::isfinite(d))
    fail(index, "expected a number, got " + quoted(std::string(s)));
  if (d < min) {
    char bound[32];
    std::snprintf(bound, sizeof(bound), "%g", min);
    fail(index, std::string("expected a number >= ") + bound + ", got " + quoted(std::string(s)));
  }
  return d;
}

}  // namespace usher::traces
