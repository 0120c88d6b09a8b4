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
  ~csv_out();
  csv_out(const csv_out&) = delete;
  csv_out& operator=(const csv_out&) = delete;

  csv_out& field(std::string_view text);
  csv_out& field(std::int64_t n);
  csv_out& seconds(policies::usec t);  ///< decimal seconds
  csv_out& empty();
  /// Fixed-point with three decimals: numerator / denominator.
  csv_out& ratio3(std::int64_t numerator, std::int64_t denominator);
  void end_row();

  /// Flushes and closes; throws input_error when the disk refused a write.
  void close();

 private:
  void separator();
  void flush_if_full();

  std::string path_;
  std::FILE* file_;
  std::string buf_;
  bool first_in_row_ = true;
};

}  // namespace usher::traces
