/// Fuzz target: every INI-shaped input usher reads, on the same bytes:
/// the raw reader (traces/ini_file.hpp), a plan file built into a plan
/// (traces/plan_file.hpp, load_plan), a node config with its plans
/// (tools/serve_config.hpp) and a workload file (tools/workload_file.hpp),
/// plus the input's first line as a `--client NAME:key=value,...` option.
///
/// Oracles beyond "no crash, no leak, no UB":
///  - each reader returns or throws policies::input_error (with a message),
///    nothing else; the raw reader's errors start with "path:line";
///  - a plan that builds charges no cost over policies::max_cost;
///  - the raw reader's entries are trimmed, non-empty keys in line order,
///    each `where` is "path:line", and a key inside a section starts with
///    "section.".

#include "fuzz/fuzz_support.hpp"
#include "policies/input_error.hpp"
#include "tools/serve_config.hpp"
#include "tools/workload_file.hpp"
#include "traces/ini_file.hpp"
#include "traces/plan_file.hpp"

using namespace usher;

namespace {

bool trimmed(const std::string& s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  return s.empty() || (!space(s.front()) && !space(s.back()));
}

void check_entries(const traces::ini_file& f, const std::string& path) {
  std::size_t last = 0;
  for (auto& e : f.entries) {
    if (e.key.empty() || !trimmed(e.key) || !trimmed(e.value)) fuzz::fail("an untrimmed entry", e.key);
    if (e.line <= last) fuzz::fail("entries out of line order");
    last = e.line;
    if (e.where != path + ":" + std::to_string(e.line)) fuzz::fail("a wrong where", e.where);
    if (!e.section.empty() && e.key.rfind(e.section + ".", 0) != 0)
      fuzz::fail("a key outside its section", e.key);
  }
}

// Every cost a plan can charge is within policies::max_cost (the usage
// meter integrates units x microseconds in 64 bits).
void check_costs(const policies::plan& p) {
  for (std::uint16_t i = 0; i < p.profile_count(); ++i) {
    if (p.cost_of(i, policies::no_id, -1) > policies::max_cost) fuzz::fail("a default cost over max_cost");
    for (std::uint32_t m = 0; m < p.named_models().size(); ++m)
      if (p.cost_of(i, m, -1) > policies::max_cost) fuzz::fail("a model cost over max_cost");
  }
}

template <class F>
void expect_input_error_only(const char* what, F f) {
  try {
    f();
  } catch (const policies::input_error& e) {
    if (std::string(e.what()).empty()) fuzz::fail(std::string(what) + ": an empty error");
  } catch (const std::exception& e) {
    fuzz::fail(std::string(what) + ": an exception other than input_error", e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::input_file file("input.ini");
  auto& path = file.write(data, size);

  try {
    check_entries(traces::read_ini_file(path, "fuzz"), path);
  } catch (const policies::input_error& e) {
    if (std::string(e.what()).rfind(path + ":", 0) != 0) fuzz::fail("an error without its line", e.what());
  } catch (const std::exception& e) {
    fuzz::fail("read_ini_file: an exception other than input_error", e.what());
  }
  expect_input_error_only("load_plan", [&] { check_costs(*traces::load_plan(path, {})); });
  expect_input_error_only("read_node_config", [&] { tools::read_node_config(path); });
  expect_input_error_only("read_workload_file", [&] { tools::read_workload_file(path); });

  std::string first(reinterpret_cast<const char*>(data), size);
  first = first.substr(0, first.find('\n'));
  expect_input_error_only("--client", [&] {
    tools::workload w;
    tools::add_client_option(w, first);
  });
  return 0;
}
