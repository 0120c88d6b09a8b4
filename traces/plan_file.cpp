#include "traces/plan_file.hpp"

#include <algorithm>
#include <fstream>

#include "policies/input_error.hpp"
#include "traces/ini_file.hpp"

namespace usher::traces {

using policies::input_error;

plan_file read_plan_file(const std::string& path) {
  plan_file result;
  for (auto& e : read_ini_file(path, "plan").entries) {
    if (e.key == "preset") {
      result.preset = e.value;
      continue;
    }
    result.settings.push_back({e.key, e.value, e.where});
  }
  if (result.preset.empty())
    throw input_error::in(path, "missing `preset = ...` (the family the plan starts from, "
                                "such as streams:team)");
  return result;
}

std::shared_ptr<const policies::plan> load_plan(const std::string& spec,
                                                const std::vector<std::string>& overrides) {
  const auto& names = policies::plan::preset_names();
  plan_file pf;
  if (std::find(names.begin(), names.end(), spec) != names.end()) {
    pf.preset = spec;
  } else if (std::ifstream(spec).good()) {
    pf = read_plan_file(spec);
  } else {
    return policies::plan::build(spec, {});  // reports the unknown preset
  }
  for (auto& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw input_error::at("--set", 0, "", "expected KEY=VALUE, got " + policies::quoted(o));
    pf.settings.push_back({o.substr(0, eq), o.substr(eq + 1), "--set"});
  }
  try {
    return policies::plan::build(pf.preset, pf.settings);
  } catch (const input_error& e) {
    if (spec != pf.preset && e.file().empty())
      throw input_error::in(spec, e.what());
    throw;
  }
}

}  // namespace usher::traces
