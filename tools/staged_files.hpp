#pragma once
/// Result files of a what-if command (compare.csv, sweep.csv, advise.json,
/// ...), written whole or not at all: each goes to a hidden temporary name
/// and all are renamed into place together by commit(), so a failed run
/// never leaves files that pass for a complete one. Old files of the same
/// names are removed up front for the same reason. With an empty `dir` the
/// files are not kept: every one is written to /dev/null.

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "policies/input_error.hpp"

namespace usher::tools {

class staged_files {
 public:
  /// Creates `dir` when missing. Throws input_error when it cannot.
  staged_files(std::filesystem::path dir, std::vector<std::string> names)
      : dir_(std::move(dir)), names_(std::move(names)) {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec)
      throw policies::input_error::in(dir_.string(),
                                      "cannot create the output directory: " + ec.message());
    for (auto& n : names_) std::filesystem::remove(dir_ / n, ec);
  }
  ~staged_files() {
    std::error_code ec;
    // With no directory the "temporary" files are /dev/null: never remove it.
    if (!committed_ && !dir_.empty())
      for (auto& n : names_) std::filesystem::remove(temp(n), ec);
  }

  /// Writes the content of `name` (one of the names given) to its temporary file.
  void write(const std::string& name, const std::string& content) {
    std::ofstream out(temp(name), std::ios::binary);
    out << content;
    out.close();
    if (!out) throw std::runtime_error((dir_ / name).string() + ": write failed");
  }

  /// Renames every written file into place.
  void commit() {
    committed_ = true;
    if (dir_.empty()) return;
    for (auto& n : names_)
      if (std::filesystem::exists(temp(n))) std::filesystem::rename(temp(n), dir_ / n);
  }

  const std::filesystem::path& dir() const { return dir_; }

  /// Where `name` is written until commit() (for writers that open it themselves).
  std::string temp(const std::string& name) const {
    return dir_.empty() ? "/dev/null" : (dir_ / ("." + name + ".tmp")).string();
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::string> names_;
  bool committed_ = false;
};

}  // namespace usher::tools
