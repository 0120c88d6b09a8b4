#include "traces/ini_file.hpp"

#include <filesystem>
#include <fstream>

#include "policies/input_error.hpp"

namespace usher::traces {

using policies::input_error;

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// `text` without a trailing comment: `#` or `;` at the start or after a
// space or tab ends the line's content (so `limit = 10   # Team` is 10, and a
// value such as `a#b` keeps its `#`).
std::string without_comment(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i)
    if ((text[i] == '#' || text[i] == ';') && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t'))
      return text.substr(0, i);
  return text;
}

}  // namespace

ini_file read_ini_file(const std::string& path, const std::string& file_kind) {
  // A directory opens as a stream and reads as an empty file.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw input_error::in(path, "a directory, not a " + file_kind + " file");
  std::ifstream in(path);
  if (!in) throw input_error::in(path, "cannot open the " + file_kind + " file");
  ini_file result;
  result.path = path;
  std::string section, raw;
  std::size_t line = 0;
  while (std::getline(in, raw)) {
    ++line;
    std::string text = trim(without_comment(raw));
    if (text.empty()) continue;
    if (text.front() == '[') {
      if (text.back() != ']' || text.size() < 3)
        throw input_error::at(path, line, "", "expected a section such as [queue], got " +
                                                  policies::quoted(text));
      section = trim(text.substr(1, text.size() - 2));
      result.sections.emplace_back(section, line);
      continue;
    }
    auto eq = text.find('=');
    if (eq == std::string::npos)
      throw input_error::at(path, line, "", "expected key = value, got " + policies::quoted(text));
    std::string key = trim(text.substr(0, eq));
    std::string value = trim(text.substr(eq + 1));
    if (key.empty()) throw input_error::at(path, line, "", "missing key before '='");
    if (!section.empty()) key = section + "." + key;
    result.entries.push_back({section, key, value, line, path + ":" + std::to_string(line)});
  }
  return result;
}

}  // namespace usher::traces
