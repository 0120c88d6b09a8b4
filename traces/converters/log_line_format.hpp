#pragma once
/// The layout of one access-log line, as `--log-format` names it, and the
/// reading of named fields out of a line. Four kinds:
///
/// - a pattern in nginx's `log_format` syntax (`$var`, `${var}`), with
///   `combined` (nginx's default) built in; fields are named as the
///   variables, without `$`;
/// - a pattern in Envoy's format-string syntax (`%START_TIME%`,
///   `%REQ(X-ACCOUNT)%`, `%%` for a percent sign), with `envoy` (Envoy's
///   default format) built in; fields are named as the commands, without
///   `%` and without a `:N` length;
/// - `json`: one JSON object per line; a field is a key, or a dotted path
///   into nested objects (`request.time`);
/// - `logfmt`: `key=value` pairs separated by spaces, values optionally
///   double-quoted with backslash escapes, `-` for no value (usher serve's
///   access log).
///
/// A pattern matches a line literally between fields; each field ends at
/// the first occurrence of the literal text that follows it, the last one
/// at the end of the line (nginx and Envoy escape the quotes inside quoted
/// values, so this is unambiguous for their formats). A field written as
/// `-` (both servers' "no value") reads as missing.
///
/// Immutable once built; reading a line keeps no state, so one format may
/// serve several readers.

#include <string>
#include <string_view>
#include <vector>

namespace usher::traces {

class log_line_format {
 public:
  enum class kind { nginx, envoy, json, logfmt };

  /// `combined`, `envoy`, `json`, `logfmt`, `nginx:PATTERN` or
  /// `envoy:PATTERN`. Throws input_error naming `--log-format` for anything
  /// else, or for a pattern with two fields and no text between them.
  explicit log_line_format(const std::string& spec);

  [[nodiscard]] kind which() const { return kind_; }
  /// The pattern's fields in order; empty for json and logfmt.
  [[nodiscard]] const std::vector<std::string>& fields() const { return fields_; }

  /// Reads the fields `wanted` of `line` into `values` (one per name, in
  /// order). Returns "" on success, else why the line does not fit
  /// ("does not match the format after ...", "field 'x': missing").
  /// Only the first `required` names must be present: a missing one past
  /// them reads as "" (a log's optional fields, such as usher serve's
  /// `lease=-`).
  /// REQUIRES: for patterns, every wanted name is one of fields().
  [[nodiscard]] std::string read(std::string_view line, const std::vector<std::string>& wanted,
                                 std::vector<std::string>& values,
                                 std::size_t required = static_cast<std::size_t>(-1)) const;

 private:
  std::string read_pattern(std::string_view line, const std::vector<std::string>& wanted,
                           std::vector<std::string>& values, std::size_t required) const;

  kind kind_;
  std::vector<std::string> fields_;
  std::vector<std::string> literals_;  // literals_[i] precedes fields_[i]; one more at the end
};

}  // namespace usher::traces
