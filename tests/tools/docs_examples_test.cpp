// The INI examples in the docs work as copied: every ```ini block of docs/*.md
// is written to a file and read by the command it is for (a node config by
// `usher serve --check`, a plan file by `usher simulate`, a workload file by
// `usher simulate --workload`), so the docs cannot drift from the readers.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>

#include "support/usher_cli.hpp"

using namespace usher::testing;

namespace {

struct ini_example {
  std::string doc;
  std::size_t line = 0;  ///< of the opening fence
  std::string text;
};

std::vector<ini_example> ini_examples() {
  std::vector<ini_example> out;
  for (auto& entry : std::filesystem::directory_iterator(source_path("docs"))) {
    if (entry.path().extension() != ".md") continue;
    std::ifstream in(entry.path());
    std::string line;
    std::size_t n = 0;
    ini_example* open = nullptr;
    while (std::getline(in, line)) {
      ++n;
      if (!open && line == "```ini") {
        out.push_back({entry.path().filename().string(), n, ""});
        open = &out.back();
      } else if (open && line.rfind("```", 0) == 0) {
        open = nullptr;
      } else if (open) {
        open->text += line + "\n";
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("every INI example in docs/ is accepted by the command it configures") {
  auto examples = ini_examples();
  REQUIRE(examples.size() >= 3);  // SERVE.md, PLANS.md, WORKLOADS.md at least
  auto dir = scratch("docs-examples");
  std::filesystem::create_directories(dir);
  for (auto& ex : examples) {
    INFO(ex.doc << ":" << ex.line << "\n" << ex.text);
    auto file = dir / (ex.doc + "-" + std::to_string(ex.line) + ".ini");
    {
      std::ofstream out(file);
      out << ex.text;
    }
    cli_result r;
    bool node_config = ex.text.find("[node]") != std::string::npos ||
                       (ex.text.find("key = ") != std::string::npos &&
                        ex.text.find("[account.") != std::string::npos);
    if (node_config)
      r = run_usher("serve --check --config '" + file.string() + "'");
    else if (ex.text.find("[clients.") != std::string::npos)
      r = run_usher("simulate --plan streams:team --workload '" + file.string() + "' --stop 1m --out '" +
                    (dir / "out").string() + "'");
    else
      r = run_usher("simulate --plan '" + file.string() +
                    "' --trace samples/sample-trace.csv --out '" + (dir / "out").string() + "'");
    INFO(r.err);
    CHECK(r.code == 0);
  }
}
