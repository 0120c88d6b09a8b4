#pragma once
/// Reads a CSV file with a header row, gzip or plain (traces/gzip_source),
/// for the trace converters and `usher trace stats`. Columns are found by
/// name; a row is split into fields that stay valid until the next row.
///
/// Accepts RFC 4180 quoting within a line ("a,b" and "say ""hi"""); a quoted
/// line break is not supported (no trace this reads has one). Empty lines
/// are skipped. Every field getter reports bad input as
///   file.csv:42: column 'x': expected ..., got "..."
/// through policies::input_error, and reading stops there.
///
/// Unlike the Fast C++ CSV Parser behind traces/trace_reader, the column
/// count is not fixed at compile time (the Azure Functions file has 1,443
/// columns) and gzip input needs no second code path.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policies/time.hpp"
#include "traces/gzip_source.hpp"

namespace usher::traces {

class csv_table {
 public:
  /// Opens `path` and reads its header. Throws input_error when the file
  /// cannot be opened or has no header line.
  explicit csv_table(const std::string& path);

  /// The index of `name` in the header, or -1.
  [[nodiscard]] int find(std::string_view name) const;
  /// The index of `name`; throws input_error at line 1 when it is missing,
  /// with `expected` listing what the format requires.
  [[nodiscard]] int require(std::string_view name, std::string_view expected) const;
  const std::vector<std::string>& header() const { return header_; }

  /// Reads the next row. Returns false at the end. Throws input_error when a
  /// row has fewer columns than the header (more are allowed and ignored).
  bool next();

  /// The text of column `index` in the current row ("" for index -1).
  [[nodiscard]] std::string_view text(int index) const;
  std::size_t line() const { return in_.line_number(); }
  const std::string& path() const { return in_.path(); }

  // -- typed fields: each throws input_error naming file, line and column --

  /// Non-negative decimal seconds, exact to the microsecond.
  [[nodiscard]] policies::usec seconds(int index) const;
  /// A non-negative integer; a decimal that is a whole number ("30.0") too.
  [[nodiscard]] std::int64_t count(int index) const;
  /// A finite number; `min` bounds it below.
  [[nodiscard]] double number(int index, double min = -1e300) const;

  /// Throws an input_error at the current line and column `index`.
  [[noreturn]] void fail(int index, const std::string& message) const;

 private:
  void split(std::string_view line);

  gzip_source in_;
  std::vector<std::string> header_;
  std::vector<std::string_view> fields_;
  std::vector<std::string> unquoted_;  // storage for fields that had quotes
};

}  // namespace usher::traces
