#include "policies/input_error.hpp"

#include <cstdio>

namespace usher::policies {

input_error::input_error(std::string file, std::size_t line, std::string field,
                         std::string what)
    : std::runtime_error(std::move(what)),
      file_(std::move(file)),
      line_(line),
      field_(std::move(field)) {}

input_error input_error::at(std::string file, std::size_t line, std::string field,
                            std::string message) {
  std::string what = file;
  if (line > 0) what += ":" + std::to_string(line);
  if (!what.empty()) what += ": ";
  if (!field.empty()) what += field + ": ";
  what += message;
  return input_error(std::move(file), line, std::move(field), std::move(what));
}

input_error input_error::in(std::string file, std::string message) {
  return at(std::move(file), 0, "", std::move(message));
}

std::string quoted(const std::string& value) {
  constexpr std::size_t max_shown = 60;
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > max_shown) out += "...";
  out += "\"";
  return out;
}

}  // namespace usher::policies
