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

/// True when `name` is one of the built-in presets (policies::plan::preset_names).
bool is_preset(const std::string& name);

/// A plan spec split at its '@': the base (a preset or a plan file) and the
/// overrides after it, `PLAN@KEY=VALUE,KEY=VALUE` (docs/WHATIF.md), so one
/// command line can name the same plan with different settings. A spec that
/// is an existing file is a file, '@' or not; otherwise the split is at the
/// first '@' whose left side is a preset or an existing file (account names
/// in keys may hold '@'), else at the first '@'. Values cannot hold commas.
struct plan_spec {
  std::string base;
  std::vector<std::string> overrides;  ///< KEY=VALUE, in order
};
plan_spec split_plan_spec(const std::string& spec);

/// Builds the plan for `spec`: a preset name or the path of a plan file,
/// optionally followed by @KEY=VALUE,... overrides; `overrides` (from --set
/// KEY=VALUE; `where` names them in errors) apply next, and `then` (a
/// sweep's varied values, named `then_where`) last. Throws input_error.
std::shared_ptr<const policies::plan> load_plan(const std::string& spec,
                                                const std::vector<std::string>& overrides,
                                                const std::string& where = "--set",
                                                const std::vector<std::string>& then = {},
                                                const std::string& then_where = "--vary");

}  // namespace usher::traces
