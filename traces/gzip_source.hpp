#pragma once
/// Reads a text file line by line, gzip-compressed or plain: zlib's gzread
/// passes a file without the gzip magic through unchanged, so callers never
/// ask which it is. Lines end at '\n'; a trailing '\r' is dropped. Memory is
/// one read block plus the longest line (capped at 64 MiB).
///
/// The path `-` reads standard input (named "stdin" in messages). A
/// directory, or a file compressed other than with gzip (zstd, xz, bzip2,
/// zip), is refused up front with an error that says what it is.
///
/// Used by the trace reader, the trace converters and `usher trace stats`;
/// owned by one caller, not thread-safe. Errors are policies::input_error
/// naming the file (and the line where one is known).

#include <cstddef>
#include <string>
#include <string_view>

namespace usher::traces {

class gzip_source {
 public:
  /// Opens `path` and reads its first block. Throws input_error "PATH:
  /// cannot open the file", "PATH: a directory, not a file" or "PATH:
  /// compressed with zstd: ...".
  explicit gzip_source(const std::string& path);
  ~gzip_source();
  gzip_source(const gzip_source&) = delete;
  gzip_source& operator=(const gzip_source&) = delete;

  /// The next line, without its line break, valid until the next call.
  /// Returns false at the end. Throws input_error on a corrupt or truncated
  /// gzip stream or a line over the cap.
  bool next(std::string_view& line);

  /// 1-based number of the line `next` returned last.
  std::size_t line_number() const { return line_number_; }
  /// The path as messages name it: "stdin" for `-`.
  const std::string& path() const { return path_; }
  static std::string display_name(const std::string& path) { return path == "-" ? "stdin" : path; }

 private:
  bool fill();

  std::string path_;
  void* file_;  // gzFile, kept out of this header
  std::string buf_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::size_t line_number_ = 0;
};

}  // namespace usher::traces
