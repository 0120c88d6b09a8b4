#pragma once
/// A buffered CSV file writer for large outputs: rows are built in memory and
/// written in large blocks, numbers through std::to_chars, so writing a
/// million outcome rows costs little next to simulating them. Fields that
/// hold a comma, quote or line break are quoted (RFC 4180).

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "policies/time.hpp"

namespace usher::traces {

class csv_out {
 public:
  /// Opens `path` for writing. Throws policies::input_error when it cannot.
  explicit csv_out(const std::string& path);
  /// Writes into memory only (text()): rows formatted on one thread and
  /// written by another (tools/sharded_run.hpp).
  csv_out();
  ~csv_out();
  csv_out(const csv_out&) = delete;
  csv_out& operator=(const csv_out&) = delete;

  csv_out& field(std::string_view text);
  csv_out& field(std::int64_t n);
  csv_out& seconds(policies::usec t);  ///< decimal seconds
  csv_out& empty();
  /// Fields already formatted (comma-separated, quoted where needed), as
  /// one field: what another csv_out's text() holds of a row.
  csv_out& fields(std::string_view formatted);
  /// Fixed-point with three decimals: numerator / denominator.
  csv_out& ratio3(std::int64_t numerator, std::int64_t denominator);
  void end_row();

  /// Flushes and closes; throws input_error when the disk refused a write.
  void close();

  /// In memory: everything written so far (rows end in '\n'), taken out;
  /// and a buffer to go on in (its memory reused, its content dropped).
  std::string take_text() { return std::move(buf_); }
  void adopt_text(std::string buffer) {
    buf_ = std::move(buffer);
    buf_.clear();
  }
  /// Bytes held in memory.
  std::size_t size() const { return buf_.size(); }

 private:
  void separator();
  void flush_if_full();

  std::string path_;
  std::FILE* file_ = nullptr;  ///< nullptr: in memory
  std::string buf_;
  bool first_in_row_ = true;
};

}  // namespace usher::traces
