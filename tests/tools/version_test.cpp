// `usher --version` and `usher version` (issue #15): the version of CMake's
// project() (USHER_PROJECT_VERSION, from tests/CMakeLists.txt) and the commit
// the binary was built from, which exists in this repository.
#include <catch2/catch.hpp>
#include <regex>

#include "support/usher_cli.hpp"

using namespace usher::testing;

TEST_CASE("usher --version prints the project version and the commit it was built from") {
  auto r = run_usher("--version");
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  std::smatch m;
  REQUIRE(std::regex_match(r.out, m,
                           std::regex("usher ([0-9.]+) \\(commit ([0-9a-f]{7,}|unknown)\\)\n")));
  CHECK(m[1] == USHER_PROJECT_VERSION);
  std::string commit = m[2];
  // In a git checkout the commit is one of its own (a new commit since the
  // build is still found); outside one it is "unknown".
  std::string git = "git -C '" + std::string(USHER_SOURCE_DIR) + "' ";
  if (std::system((git + "rev-parse --git-dir >/dev/null 2>&1").c_str()) == 0) {
    CHECK(commit != "unknown");
    CHECK(std::system((git + "cat-file -e " + commit + "^{commit} 2>/dev/null").c_str()) == 0);
  }

  SECTION("usher version says the same, and the usage names it") {
    CHECK(run_usher("version").out == r.out);
    CHECK(run_usher("--help").out.find("  version ") != std::string::npos);
  }
}
