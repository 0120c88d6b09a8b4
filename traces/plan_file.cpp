#include "traces/plan_file.hpp"

#include <algorithm>
#include <fstream>

#include "policies/input_error.hpp"

namespace usher::traces {

using policies::input_error;

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

plan_file read_plan_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw input_error::in(path, "cannot open the plan file");
  plan_file result;
  std::string section, raw;
  std::size_t line = 0;
  while (std::getline(in, raw)) {
    ++line;
    std::string text = trim(raw);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    if (text.front() == '[') {
      if (text.back() != ']' || text.size() < 3)
        throw input_error::at(path, line, "", "expected a section such as [queue], got " +
                                                  policies::quoted(text));
      section = trim(text.substr(1, text.size() - 2));
      continue;
    }
    auto eq = text.find('=');
    if (eq == std::string::npos)
      throw input_error::at(path, line, "", "expected key = value, got " + policies::quoted(text));
    std::string key = trim(text.substr(0, eq));
    std::string value = trim(text.substr(eq + 1));
    if (key.empty()) throw input_error::at(path, line, "", "missing key before '='");
    if (!section.empty()) key = section + "." + key;
    if (key == "preset") {
      result.preset = value;
      continue;
    }
    result.settings.push_back({key, value, path + ":" + std::to_string(line)});
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
