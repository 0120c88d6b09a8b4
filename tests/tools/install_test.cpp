// `cmake --install` as an operator runs it (issue #15): into an empty prefix
// go the binary, the man page, the bash completion, the docs and the example
// configs, and the installed binary works from there. The build directory,
// cmake and what was built come from tests/CMakeLists.txt (USHER_BUILD_DIR,
// USHER_CMAKE, USHER_INSTALLED_MAN_PAGE: empty when help2man was missing).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>

#include "support/usher_cli.hpp"

namespace fs = std::filesystem;

using namespace usher::testing;

namespace {

/// Runs a shell command, stdout and stderr to files, as run_usher does.
cli_result run_shell(const std::string& command) {
  static int n = 0;
  auto out = scratch_root() / ("install-out" + std::to_string(n));
  auto err = scratch_root() / ("install-err" + std::to_string(n++));
  int raw = std::system((command + " >'" + out.string() + "' 2>'" + err.string() + "'").c_str());
  cli_result r;
  r.code = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

/// A prefix with this build installed into it (once per test process),
/// removed when the process ends: half a gigabyte with debug information,
/// which every run would otherwise leave in the temp directory.
const fs::path& installed() {
  struct removed_at_exit {
    fs::path path;
    ~removed_at_exit() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  };
  static const removed_at_exit prefix{[] {
    auto p = scratch("prefix");
    auto r = run_shell(std::string("'") + USHER_CMAKE + "' --install '" + USHER_BUILD_DIR +
                       "' --prefix '" + p.string() + "'");
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    return p;
  }()};
  return prefix.path;
}

/// What the completion script offers for `line` (the cursor at its end).
std::string complete(const std::string& line) {
  auto script = installed() / "share/bash-completion/completions/usher";
  auto r =
      run_shell("cd '" + std::string(USHER_SOURCE_DIR) + "' && bash -c 'source \"$0\"; " +
                "COMP_LINE=\"$1\"; COMP_POINT=${#COMP_LINE}; _usher; " +
                "printf \"%s\\n\" \"${COMPREPLY[@]}\"' '" + script.string() + "' '" + line + "'");
  REQUIRE(r.code == 0);
  return r.out;
}

}  // namespace

TEST_CASE(
    "cmake --install puts usher, its man page, completion, docs and examples under the prefix") {
  auto& p = installed();
  auto usher = p / "bin/usher";
  REQUIRE(fs::is_regular_file(usher));
  CHECK((fs::status(usher).permissions() & fs::perms::owner_exec) != fs::perms::none);
  CHECK(fs::is_regular_file(p / "share/bash-completion/completions/usher"));
  for (auto doc : {"README.md", "LICENSE", "docs/SERVE.md", "docs/PLANS.md",
                   "docs/serve-dashboard.png", "examples/serve.ini", "examples/plans/team.ini",
                   "examples/peak_hours_gate/peak_hours_gate.cpp"}) {
    INFO(doc);
    CHECK(fs::is_regular_file(p / "share/doc/usher" / doc));
  }
  // The service's files are the package's: a plain install writes no /etc.
  CHECK_FALSE(fs::exists(p / "etc"));
  CHECK_FALSE(fs::exists(p / "lib/systemd"));

  std::string man = USHER_INSTALLED_MAN_PAGE;
  if (man.empty()) {
    WARN("built without help2man: no man page to check");
    CHECK_FALSE(fs::exists(p / "share/man"));
  } else {
    REQUIRE(fs::is_regular_file(p / man));
    auto page = run_shell("gzip -dcf '" + (p / man).string() + "'");
    REQUIRE(page.code == 0);
    CHECK(page.out.find(".TH USHER \"1\"") != std::string::npos);
    // Every command of `usher --help` has its own help in the page.
    for (auto command : {"simulate", "trace", "trace convert", "compare", "sweep", "advise", "plot",
                         "serve", "key"}) {
      INFO(command);
      CHECK(page.out.find(std::string(".SS \"usher ") + command + "\"") != std::string::npos);
    }
    CHECK(page.out.find("\\-\\-config") != std::string::npos);  // usher serve's option
  }
}

TEST_CASE("the installed usher prints its version and accepts the installed example config") {
  auto usher = "'" + (installed() / "bin/usher").string() + "'";
  auto version = run_shell(usher + " --version");
  CHECK(version.code == 0);
  CHECK(std::regex_match(version.out, std::regex("usher " USHER_PROJECT_VERSION
                                                 " \\(commit ([0-9a-f]{7,}|unknown)\\)\n")));
  auto example = installed() / "share/doc/usher/examples/serve.ini";
  auto check = run_shell(usher + " serve --check --config '" + example.string() + "'");
  INFO(check.err);
  CHECK(check.code == 0);
  CHECK(check.out.find("is valid (1 accounts, 1 plans)") != std::string::npos);
}

TEST_CASE("a gate library builds against the installed headers and the installed usher loads it") {
  // As a user outside the project would: the installed example, its own
  // CMake project, the installed policies/ headers.
  auto source = installed() / "share/doc/usher/examples/peak_hours_gate";
  auto build = scratch("gate-build");
  auto configure = run_shell("'" + std::string(USHER_CMAKE) + "' -S '" + source.string() + "' -B '" +
                             build.string() + "' -DUSHER_SOURCE_DIR='" +
                             (installed() / "include/usher").string() + "'");
  INFO(configure.out << configure.err);
  REQUIRE(configure.code == 0);
  auto make = run_shell("'" + std::string(USHER_CMAKE) + "' --build '" + build.string() + "'");
  INFO(make.out << make.err);
  REQUIRE(make.code == 0);
  auto library = build / "libpeak_hours_gate.so";
  REQUIRE(fs::is_regular_file(library));
  auto out = scratch("gate-run");
  auto run = run_shell("cd '" + std::string(USHER_SOURCE_DIR) + "' && '" + (installed() / "bin/usher").string() +
                       "' simulate -q --trace samples/sample-trace.csv --plan '" + (source / "plan.ini").string() +
                       "' --set gate.peak.library='" + library.string() + "' --out '" + out.string() + "'");
  INFO(run.err);
  CHECK(run.code == 0);
  CHECK(fs::is_regular_file(out / "outcomes.csv"));
}

TEST_CASE("the installed bash completion offers commands, options and presets") {
  auto usher = (installed() / "bin/usher").string();
  CHECK(complete(usher + " si") == "simulate\n");
  CHECK(complete(usher + " --v") == "--version\n");
  CHECK(complete(usher + " trace c") == "convert\n");
  CHECK(complete(usher + " serve --c") == "--check\n--config\n");
  CHECK(complete(usher + " trace convert --from moon") == "mooncake\n");
  // bash replaces only the part after the colon.
  CHECK(complete(usher + " simulate --plan streams:t") == "team\n");
  // A file where a file goes, relative to the working directory.
  CHECK(complete(usher + " simulate --trace samples/sample-t") == "samples/sample-trace.csv\n");
}
