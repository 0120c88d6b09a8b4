#include "tools/variant_grid.hpp"

#include <set>

#include "policies/input_error.hpp"
#include "policies/time.hpp"

namespace usher::tools {

using policies::input_error;
using policies::quoted;

namespace {

constexpr const char* syntax = "expected KEY=V1,V2,... or KEY=LO..HI[:STEP]";
constexpr std::size_t max_values = 10000;

// Exact decimals: a number in millionths, as parse_seconds reads seconds.
bool parse_decimal(const std::string& text, std::int64_t& out) {
  return policies::parse_seconds(text, out);
}

}  // namespace

vary_axis parse_vary(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw input_error::at("--vary", 0, "", std::string(syntax) + ", got " + quoted(text));
  vary_axis axis;
  axis.key = text.substr(0, eq);
  std::string list = text.substr(eq + 1);
  if (list.empty())
    throw input_error::at("--vary", 0, axis.key, "no values (" + std::string(syntax) + ")");

  auto dots = list.find("..");
  if (dots != std::string::npos && list.find(',') == std::string::npos) {
    std::string lo_text = list.substr(0, dots), rest = list.substr(dots + 2), step_text = "1";
    auto colon = rest.find(':');
    std::string hi_text = rest.substr(0, colon);
    if (colon != std::string::npos) step_text = rest.substr(colon + 1);
    std::int64_t lo = 0, hi = 0, step = 0;
    if (!parse_decimal(lo_text, lo) || !parse_decimal(hi_text, hi) || !parse_decimal(step_text, step))
      throw input_error::at("--vary", 0, axis.key,
                            "expected LO..HI[:STEP] with non-negative decimal numbers, got " +
                                quoted(list));
    if (lo > hi)
      throw input_error::at("--vary", 0, axis.key,
                            "LO must not exceed HI in LO..HI[:STEP], got " + quoted(list));
    if (step <= 0)
      throw input_error::at("--vary", 0, axis.key,
                            "STEP must be greater than 0 in LO..HI[:STEP], got " + quoted(list));
    if ((hi - lo) / step + 1 > static_cast<std::int64_t>(max_values))
      throw input_error::at("--vary", 0, axis.key,
                            "more than " + std::to_string(max_values) + " values in " + quoted(list));
    for (std::int64_t v = lo; v <= hi; v += step) axis.values.push_back(policies::format_seconds(v));
    return axis;
  }
  for (std::size_t from = 0; from <= list.size();) {
    auto comma = list.find(',', from);
    if (comma == std::string::npos) comma = list.size();
    std::string v = list.substr(from, comma - from);
    if (v.empty())
      throw input_error::at("--vary", 0, axis.key, "empty value in " + quoted(list));
    axis.values.push_back(v);
    from = comma + 1;
  }
  if (axis.values.size() > max_values)
    throw input_error::at("--vary", 0, axis.key, "more than " + std::to_string(max_values) + " values");
  return axis;
}

std::vector<std::vector<std::string>> make_grid(const std::vector<vary_axis>& axes,
                                                std::size_t max_variants) {
  std::set<std::string> keys;
  std::size_t total = 1;
  for (auto& a : axes) {
    if (!keys.insert(a.key).second)
      throw input_error::at("--vary", 0, a.key, "varied twice: give all its values in one --vary");
    total *= a.values.size();
    if (total > max_variants)
      throw input_error::at("--vary", 0, "",
                            "the grid has more than " + std::to_string(max_variants) + " variants");
  }
  std::vector<std::vector<std::string>> grid;
  if (axes.empty()) return grid;
  grid.reserve(total);
  std::vector<std::size_t> at(axes.size(), 0);
  for (std::size_t n = 0; n < total; ++n) {
    std::vector<std::string> point;
    for (std::size_t i = 0; i < axes.size(); ++i) point.push_back(axes[i].values[at[i]]);
    grid.push_back(std::move(point));
    for (std::size_t i = axes.size(); i-- > 0;) {
      if (++at[i] < axes[i].values.size()) break;
      at[i] = 0;
    }
  }
  return grid;
}

std::vector<std::string> settings_of(const std::vector<vary_axis>& axes,
                                     const std::vector<std::string>& point) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < axes.size(); ++i) out.push_back(axes[i].key + "=" + point[i]);
  return out;
}

}  // namespace usher::tools
