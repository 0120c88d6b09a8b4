#pragma once
/// The variants of a sweep: each `--vary` names a plan key and its values,
/// and several make a grid (every combination). Values are plan values as
/// `--set` takes them (docs/PLANS.md); a range LO..HI[:STEP] expands to
/// decimal numbers LO, LO+STEP, ... up to HI (HI included when on the
/// grid; STEP 1 by default), computed exactly in millionths, so
/// `0.1..0.3:0.1` gives 0.1, 0.2, 0.3.
///
/// Order: variants are numbered from 1 in the order of nested loops over
/// the --vary options as given, the last one varying fastest. Plain data;
/// parsing throws policies::input_error naming "--vary".

#include <cstddef>
#include <string>
#include <vector>

namespace usher::tools {

struct vary_axis {
  std::string key;
  std::vector<std::string> values;
};

/// Parses one `--vary` argument: KEY=V1,V2,... or KEY=LO..HI[:STEP].
vary_axis parse_vary(const std::string& text);

/// Every combination, as one value per axis. Throws input_error when two
/// axes name the same key or the grid exceeds `max_variants`.
std::vector<std::vector<std::string>> make_grid(const std::vector<vary_axis>& axes,
                                                std::size_t max_variants = 100000);

/// KEY=VALUE overrides of one grid point.
std::vector<std::string> settings_of(const std::vector<vary_axis>& axes,
                                     const std::vector<std::string>& point);

}  // namespace usher::tools
