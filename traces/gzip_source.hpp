#pragma once
/// Reads a text file line by line, gzip-compressed or plain: zlib's gzread
/// passes a file without the gzip magic through unchanged, so callers never
/// ask which it is. Lines end at '\n'; a trailing '\r' is dropped. Memory is
/// one read block plus the longest line (capped at 64 MiB).
///
/// Used by the trace converters and `usher trace stats`; owned by one caller,
/// not thread-safe. Errors are policies::input_error naming the file (and the
/// line where one is known).

#include <cstddef>
#include <string>
#include <string_view>

namespace usher::traces {

class gzip_source {
 public:
  /// Opens `path`. Throws input_error "PATH: cannot open the file".
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
  const std::string& path() const { return path_; }

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
