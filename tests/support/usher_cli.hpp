#pragma once
/// Test support: runs the usher binary as users do (in the source directory,
/// so paths in messages are relative) and reads what it wrote: the one
/// runner of every test of the command line.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace usher::testing {

struct cli_result {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The scratch directory of this process under the temp directory.
inline std::filesystem::path scratch_root() {
  auto dir = std::filesystem::temp_directory_path() / ("usher-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

/// A fresh scratch path (nothing there yet; its directory exists).
inline std::filesystem::path scratch(const std::string& name) {
  auto p = scratch_root() / name;
  std::filesystem::remove_all(p);
  return p;
}

/// Runs `usher ARGS`, stdout and stderr to files (so stderr is no terminal).
inline cli_result run_usher(const std::string& args) {
  static int n = 0;
  auto dir = scratch_root();
  auto out = dir / ("out" + std::to_string(n));
  auto err = dir / ("err" + std::to_string(n++));
  std::string cmd = std::string("cd '") + USHER_SOURCE_DIR + "' && '" + USHER_BINARY + "' " + args +
                    " >'" + out.string() + "' 2>'" + err.string() + "'";
  int raw = std::system(cmd.c_str());
  cli_result r;
  r.code = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

/// The rows of a CSV file usher wrote (outcomes.csv: no quoted fields), each
/// as column name -> text.
inline std::vector<std::map<std::string, std::string>> csv_rows(const std::filesystem::path& p) {
  std::istringstream in(slurp(p));
  auto split = [](const std::string& line) {
    std::vector<std::string> f;
    std::stringstream s(line);
    std::string x;
    while (std::getline(s, x, ',')) f.push_back(x);
    if (!line.empty() && line.back() == ',') f.emplace_back();
    return f;
  };
  std::string line;
  std::getline(in, line);
  auto header = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    auto f = split(line);
    f.resize(header.size());
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size(); ++i) row[header[i]] = f[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

/// The key=value fields of one logfmt line usher wrote (an access log line;
/// values there hold no space: a quoted one keeps its quotes).
inline std::map<std::string, std::string> logfmt_fields(const std::string& line) {
  std::map<std::string, std::string> f;
  std::istringstream in(line);
  for (std::string kv; in >> kv;) {
    auto eq = kv.find('=');
    f[kv.substr(0, eq)] = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
  }
  return f;
}

/// Each line of a logfmt file, as logfmt_fields reads it.
inline std::vector<std::map<std::string, std::string>> logfmt_lines(const std::filesystem::path& p) {
  std::vector<std::map<std::string, std::string>> out;
  std::istringstream in(slurp(p));
  for (std::string line; std::getline(in, line);) out.push_back(logfmt_fields(line));
  return out;
}

inline std::string source_path(const std::string& relative) {
  return (std::filesystem::path(USHER_SOURCE_DIR) / relative).string();
}

/// An expected error text from tests/tools/golden/.
inline std::string golden(const std::string& name) {
  return slurp(source_path("tests/tools/golden/" + name));
}

}  // namespace usher::testing
