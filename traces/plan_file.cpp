#include "traces/plan_file.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "policies/input_error.hpp"
#include "traces/gate_library.hpp"
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
  // A gate library named in the file is found beside the file.
  load_gate_libraries(result.settings, std::filesystem::path(path).parent_path().string());
  return result;
}

bool is_preset(const std::string& name) {
  const auto& names = policies::plan::preset_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

namespace {

// A directory opens as a stream too, and then reads as an empty plan.
bool is_file(const std::string& path) {
  return !path.empty() && !std::filesystem::is_directory(path) && std::ifstream(path).good();
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

plan_spec split_plan_spec(const std::string& spec) {
  plan_spec out;
  out.base = spec;
  if (is_preset(spec) || is_file(spec) || spec.find('@') == std::string::npos) return out;
  std::size_t at = spec.find('@');
  for (std::size_t i = at; i != std::string::npos; i = spec.find('@', i + 1))
    if (is_preset(spec.substr(0, i)) || is_file(spec.substr(0, i))) {
      at = i;
      break;
    }
  out.base = spec.substr(0, at);
  std::string rest = spec.substr(at + 1);
  for (std::size_t from = 0; from <= rest.size();) {
    auto comma = rest.find(',', from);
    if (comma == std::string::npos) comma = rest.size();
    out.overrides.push_back(rest.substr(from, comma - from));
    from = comma + 1;
  }
  return out;
}

std::shared_ptr<const policies::plan> load_plan(const std::string& spec_text,
                                                const std::vector<std::string>& overrides,
                                                const std::string& where,
                                                const std::vector<std::string>& then,
                                                const std::string& then_where) {
  auto spec = split_plan_spec(spec_text);
  plan_file pf;
  if (is_preset(spec.base)) {
    pf.preset = spec.base;
  } else if (is_file(spec.base)) {
    pf = read_plan_file(spec.base);
  } else if (std::filesystem::is_directory(spec.base)) {
    throw input_error::in(spec.base, "a directory, not a plan file or preset");
  } else if (spec.base.find('/') != std::string::npos || ends_with(spec.base, ".ini")) {
    throw input_error::in(spec.base, "cannot open the plan file");
  } else {
    return policies::plan::build(spec.base, {});  // reports the unknown preset
  }
  auto add = [&](const std::string& o, const std::string& origin) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw input_error::at(origin, 0, "", "expected KEY=VALUE, got " + policies::quoted(o));
    pf.settings.push_back({o.substr(0, eq), o.substr(eq + 1), origin});
  };
  for (auto& o : spec.overrides) add(o, "--plan " + spec_text);
  for (auto& o : overrides) add(o, where);
  for (auto& o : then) add(o, then_where);
  load_gate_libraries(pf.settings, "");  // those from the command line: beside the working directory
  try {
    return policies::plan::build(pf.preset, pf.settings);
  } catch (const input_error& e) {
    if (spec.base != pf.preset && e.file().empty())
      throw input_error::in(spec.base, e.what());
    throw;
  }
}

}  // namespace usher::traces
