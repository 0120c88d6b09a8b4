#pragma once
/// Reads a plan file: INI with `key = value` lines, `[section]` headers that
/// prefix the keys inside them (`[queue]` + `max_wait = 30` is
/// `queue.max_wait`; `[account.acme]` + `tier = solo` is
/// `account.acme.tier`), and `#` or `;` comments. One key names the base:
/// `preset = streams:team`. Every setting remembers its file and line, so an
/// unknown key or bad value is reported where it stands (docs/PLANS.md).
///
/// A small reader of our own rather than Boost.Program_options' config
/// parser: that parser drops line numbers, which every error must carry.

#include <string>
#include <vector>

#include "policies/plan.hpp"

namespace usher::traces {

struct plan_file {
  std::string preset;
  std::vector<policies::plan::setting> settings;
};

/// Reads `path`. Throws policies::input_error (file, line, reason).
plan_file read_plan_file(const std::string& path);

/// Builds the plan for `spec`: a preset name, or the path of a plan file;
/// `overrides` (from --set KEY=VALUE) apply last. Throws input_error.
std::shared_ptr<const policies::plan> load_plan(const std::string& spec,
                                                const std::vector<std::string>& overrides);

}  // namespace usher::traces
