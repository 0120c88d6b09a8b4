#include "traces/converters/converters.hpp"

#include "policies/input_error.hpp"

namespace usher::traces {

using policies::input_error;

namespace {

struct format_entry {
  const char* name;
  convert_result (*convert)(const convert_options&);
};

const format_entry formats[] = {
    {"azure-llm", convert_azure_llm}, {"mooncake", convert_mooncake},
    {"gentd26", convert_gentd26},     {"azure-functions", convert_azure_functions},
    {"servegen", convert_servegen},   {"access-log", convert_access_log},
};

std::string joined_formats() {
  std::string s;
  for (auto& f : formats) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

}  // namespace

const std::vector<std::string>& convert_formats() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (auto& f : formats) v.emplace_back(f.name);
    return v;
  }();
  return names;
}

convert_result convert_trace(const std::string& format, const convert_options& options) {
  for (auto& f : formats)
    if (format == f.name) return f.convert(options);
  throw input_error::at(
      "--from", 0, "",
      "unknown format " + policies::quoted(format) + " (expected " + joined_formats() + ")");
}

void check_cost_mode(const convert_options& options, const std::vector<std::string>& allowed,
                     const std::string& format) {
  if (options.cost == "none") return;
  std::string expected = "none";
  for (auto& a : allowed) {
    if (options.cost == a) return;
    expected += " or " + a;
  }
  throw input_error::at("--cost", 0, "",
                        policies::quoted(options.cost) + " is not available for " + format +
                            " (expected " + expected + ")");
}

}  // namespace usher::traces
