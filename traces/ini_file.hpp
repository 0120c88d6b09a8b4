#pragma once
/// The line-numbered INI reader behind plan files (traces/plan_file.hpp) and
/// node configs (tools/serve_config.hpp): `key = value` lines, `[section]`
/// headers that prefix the keys inside them (`[queue]` + `max_wait = 30` is
/// `queue.max_wait`), `#` or `;` comments (on lines of their own, or at the
/// end of a line after a space or tab: `limit = 10   # Team`), blank lines.
/// A value therefore cannot hold " #" or " ;"; `a#b` keeps its `#`.
/// Keys may repeat; entries keep file order, so the caller decides whether a
/// later value overrides or adds.
///
/// A reader of our own rather than Boost.Program_options' config parser: that
/// parser drops line numbers, which every error must carry.

#include <cstddef>
#include <string>
#include <vector>

namespace usher::traces {

/// One `key = value` line. `key` carries its section prefix.
struct ini_entry {
  std::string section;  ///< the section it stands in, "" before any
  std::string key;      ///< "section.key", or "key" outside sections
  std::string value;
  std::size_t line = 0;
  std::string where;    ///< "path:line", for error messages
};

struct ini_file {
  std::string path;
  std::vector<ini_entry> entries;
  std::vector<std::pair<std::string, std::size_t>> sections;  ///< name, line
};

/// Reads `path`. Throws policies::input_error with the file and line of the
/// first malformed line; "cannot open the FILE_KIND file" when it is missing.
ini_file read_ini_file(const std::string& path, const std::string& file_kind);

}  // namespace usher::traces
