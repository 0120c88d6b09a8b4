// The INI reader behind plan files, node configs and workload files
// (traces/ini_file.hpp): comments, sections, and the line every entry came from.
#include "traces/ini_file.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "policies/input_error.hpp"

namespace {

usher::traces::ini_file read_text(const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("usher-ini-" + std::to_string(::getpid()) + ".ini");
  {
    std::ofstream out(path);
    out << text;
  }
  auto f = usher::traces::read_ini_file(path.string(), "test");
  std::filesystem::remove(path);
  return f;
}

}  // namespace

TEST_CASE("a comment after a value ends it, and a # or a semicolon inside a word is part of it") {
  auto f = read_text(
      "# a comment line\n"
      "; another\n"
      "preset = streams:team   # the Team tier\n"
      "[queue]\t; nested keys\n"
      "max_wait = 30s\t# tab before the comment\n"
      "name = a#b;c\n"
      "empty =    # nothing but a comment\n");
  REQUIRE(f.entries.size() == 4);
  CHECK(f.entries[0].key == "preset");
  CHECK(f.entries[0].value == "streams:team");
  CHECK(f.entries[0].line == 3);
  CHECK(f.entries[1].key == "queue.max_wait");
  CHECK(f.entries[1].value == "30s");
  CHECK(f.entries[2].value == "a#b;c");
  CHECK(f.entries[3].key == "queue.empty");
  CHECK(f.entries[3].value.empty());
  REQUIRE(f.sections.size() == 1);
  CHECK(f.sections[0].first == "queue");
}

TEST_CASE("a malformed line names its line") {
  try {
    read_text("preset = streams\n\nno equals sign here  # even with a comment\n");
    FAIL("no error");
  } catch (const usher::policies::input_error& e) {
    CHECK(std::string(e.what()).find(":3:") != std::string::npos);
    CHECK(std::string(e.what()).find("expected key = value, got \"no equals sign here\"") !=
          std::string::npos);
  }
}
