#pragma once
/// The one error type for bad input: a trace row, a plan file, a --set
/// override, a command-line value. It names the place first and the setting
/// at fault last, for example
///   trace.csv:42: field 'duration_s': expected a non-negative number, got "-3"
///   plan.ini:7: [queue] max_wait: unknown unit "mins"
/// Policies return outcomes (408, 429, ...) as values; only input that can
/// never be simulated or served becomes an input_error. The CLI maps it to
/// exit code 2, the HTTP edge to 400.

#include <cstddef>
#include <stdexcept>
#include <string>

namespace usher::policies {

class input_error : public std::runtime_error {
 public:
  /// `file` may be empty (a command-line value); `line` 0 means "no line".
  static input_error at(std::string file, std::size_t line, std::string field,
                        std::string message);

  /// A problem with a whole input rather than one field of it.
  static input_error in(std::string file, std::string message);

  const std::string& file() const { return file_; }
  std::size_t line() const { return line_; }
  const std::string& field() const { return field_; }

 private:
  input_error(std::string file, std::size_t line, std::string field, std::string what);

  std::string file_;
  std::size_t line_;
  std::string field_;
};

/// Quotes a value for an error message: "abc", with control characters shown
/// as \xNN and long values cut, so a hostile value cannot garble the message.
std::string quoted(const std::string& value);

}  // namespace usher::policies
