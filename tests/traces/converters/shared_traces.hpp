#pragma once
// Helpers for the converter tests: where the public traces are (read in
// place from /work/shared/traces, never copied into the project), scratch
// files, and a tiny reader for the CSV the converters write.
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace usher::test {

/// The path of a shared trace, or "" when the shared folder is absent.
inline std::string shared_trace(const std::string& relative) {
  auto p = std::filesystem::path(USHER_SOURCE_DIR) / ".." / "shared" / "traces" / relative;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

/// A fresh path in the temp directory, unique to this process.
inline std::string scratch_file(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("usher-traces-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}

inline std::string write_file(const std::string& name, const std::string& text) {
  auto p = scratch_file(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

/// `text` gzip-compressed into a scratch file; returns its path.
inline std::string write_gzip(const std::string& name, const std::string& text) {
  auto path = scratch_file(name);
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, text.data(), static_cast<unsigned>(text.size())) ==
          static_cast<int>(text.size()));
  gzclose(f);
  return path;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The rows of a converter's output (no quoted fields), header first.
inline std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream s(line);
    std::string f;
    while (std::getline(s, f, ',')) fields.push_back(f);
    if (!line.empty() && line.back() == ',') fields.emplace_back();
    rows.push_back(fields);
  }
  return rows;
}

}  // namespace usher::test

/// Declares `var` as the shared trace `relative`, or skips the test case
/// with a warning when the shared traces are not on this machine.
#define USHER_SHARED_TRACE(var, relative)                                                     \
  const std::string var = usher::test::shared_trace(relative);                                \
  if (var.empty()) {                                                                          \
    WARN("skipped: " << relative << " not found under " << USHER_SOURCE_DIR                   \
                     << "/../shared/traces (public traces are read in place, never copied)"); \
    return;                                                                                   \
  }
