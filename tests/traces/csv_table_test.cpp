// traces/csv_table and traces/gzip_source: columns by name, quoting, gzip
// read the same as plain text, and damaged input named by file and line.
#include "traces/csv_table.hpp"

#include <zlib.h>

#include <catch2/catch.hpp>

#include "policies/input_error.hpp"
#include "tests/traces/converters/shared_traces.hpp"
#include "traces/gzip_source.hpp"

using namespace usher;
using usher::test::scratch_file;
using usher::test::write_file;
using usher::test::write_gzip;

namespace {
std::vector<std::string> lines_of(const std::string& path) {
  traces::gzip_source in(path);
  std::vector<std::string> lines;
  std::string_view line;
  while (in.next(line)) lines.emplace_back(line);
  return lines;
}
}  // namespace

TEST_CASE("a gzip file reads line by line exactly as the plain file does") {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "row " + std::to_string(i) + (i % 7 ? "\n" : "\r\n");
  text += "last line without a break";
  auto plain = lines_of(write_file("lines.txt", text));
  auto zipped = lines_of(write_gzip("lines.txt.gz", text));
  REQUIRE(plain.size() == 100001);
  CHECK(plain == zipped);
  CHECK(plain[7] == "row 7");  // the \r is dropped
  CHECK(plain.back() == "last line without a break");
}

TEST_CASE("a truncated gzip file is an error naming the file") {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += std::to_string(i * 7919 % 10007) + "\n";
  auto path = write_gzip("cut.txt.gz", text);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  CHECK_THROWS_WITH(lines_of(path),
                    Catch::Contains("cut.txt.gz:") && Catch::Contains("cannot decompress"));
}

TEST_CASE("csv_table finds columns by name and unquotes fields") {
  auto path = write_file("table.csv", "b,a,c\n1,\"x, \"\"y\"\"\",3\n\n4,5,6,7\n");
  traces::csv_table t(path);
  CHECK(t.find("a") == 1);
  CHECK(t.find("z") == -1);
  REQUIRE(t.next());
  CHECK(t.text(1) == "x, \"y\"");
  CHECK(t.count(0) == 1);
  REQUIRE(t.next());  // the empty line is skipped; extra columns are allowed
  CHECK(t.line() == 4);
  CHECK(t.number(2) == 6.0);
  CHECK_FALSE(t.next());
  CHECK_THROWS_WITH(t.require("z", "needs z"),
                    Catch::EndsWith("table.csv:1: column 'z': missing from the header (needs z)"));
}

TEST_CASE("csv_table names the file, line and column of a bad field") {
  auto path = write_file("bad_table.csv", "n,t\n1.0,2\nx,3\n5\n");
  traces::csv_table t(path);
  REQUIRE(t.next());
  CHECK(t.count(0) == 1);  // a whole decimal is a count
  REQUIRE(t.next());
  CHECK_THROWS_WITH(
      t.count(0),
      Catch::EndsWith("bad_table.csv:3: column 'n': expected a non-negative integer, got \"x\""));
  CHECK_THROWS_WITH(t.next(), Catch::EndsWith("bad_table.csv:4: too few columns: 1 of 2"));
}
