#include "traces/gzip_source.hpp"

#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <string_view>

#include "policies/input_error.hpp"

namespace usher::traces {

using policies::input_error;

namespace {
constexpr std::size_t block = 1 << 18;
constexpr std::size_t max_line = std::size_t{64} << 20;

// gzopen for a path; for `-`, a duplicate of stdin, so gzclose leaves fd 0 open.
void* open_gz(const std::string& path) {
  if (path != "-") return gzopen(path.c_str(), "rb");
  int fd = ::dup(STDIN_FILENO);
  if (fd < 0) return nullptr;
  gzFile f = gzdopen(fd, "rb");
  if (f == nullptr) ::close(fd);
  return f;
}

// What a file starts with when it is compressed in a way zlib cannot read.
const char* other_compression(std::string_view head) {
  struct magic {
    std::string_view bytes;
    const char* name;
  };
  static const magic known[] = {{"\x28\xb5\x2f\xfd", "zstd"},
                                {"\xfd"
                                 "7zXZ",
                                 "xz"},
                                {"BZh", "bzip2"},
                                {"PK\x03\x04", "zip"}};
  for (auto& m : known)
    if (head.substr(0, m.bytes.size()) == m.bytes) return m.name;
  return nullptr;
}

}  // namespace

gzip_source::gzip_source(const std::string& path) : path_(display_name(path)), file_(nullptr) {
  // A directory opens (and then fails to read with a puzzling message).
  std::error_code ec;
  if (path != "-" && std::filesystem::is_directory(path, ec))
    throw input_error::in(path_, "a directory, not a file");
  file_ = open_gz(path);
  if (file_ == nullptr) throw input_error::in(path_, "cannot open the file");
  gzbuffer(static_cast<gzFile>(file_), block);
  buf_.resize(block);
  try {
    if (gzdirect(static_cast<gzFile>(file_)) != 0 && fill())
      if (const char* name = other_compression(std::string_view(buf_.data(), end_)))
        throw input_error::in(path_, std::string("compressed with ") + name +
                                         ": usher reads plain or gzip-compressed text "
                                         "(decompress it first)");
  } catch (...) {
    gzclose(static_cast<gzFile>(file_));  // no destructor runs for a throwing constructor
    throw;
  }
}

gzip_source::~gzip_source() {
  if (file_ != nullptr) gzclose(static_cast<gzFile>(file_));
}

// Moves the unread tail to the front and appends what gzread gives.
bool gzip_source::fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) {
    if (buf_.size() >= max_line)
      throw input_error::at(path_, line_number_ + 1, "", "line longer than 64 MiB");
    buf_.resize(buf_.size() * 2);
  }
  auto want = static_cast<unsigned>(buf_.size() - end_);
  int got = gzread(static_cast<gzFile>(file_), buf_.data() + end_, want);
  if (got < 0) {
    int code = 0;
    const char* msg = gzerror(static_cast<gzFile>(file_), &code);
    throw input_error::at(path_, line_number_ + 1, "",
                          std::string("cannot decompress: ") + (msg ? msg : "zlib error"));
  }
  if (got == 0) {
    // A truncated gzip stream ends like a file, with Z_BUF_ERROR set.
    int code = Z_OK;
    gzerror(static_cast<gzFile>(file_), &code);
    if (code != Z_OK)
      throw input_error::at(path_, line_number_ + 1, "",
                            "cannot decompress: the gzip stream is truncated");
    eof_ = true;
    return false;
  }
  end_ += static_cast<std::size_t>(got);
  return true;
}

bool gzip_source::next(std::string_view& line) {
  std::size_t scanned = begin_;
  for (;;) {
    const char* start = buf_.data() + scanned;
    const void* nl = std::memchr(start, '\n', end_ - scanned);
    if (nl != nullptr) {
      std::size_t stop = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data());
      line = std::string_view(buf_.data() + begin_, stop - begin_);
      begin_ = stop + 1;
      break;
    }
    std::size_t unread = end_ - begin_;
    if (!fill()) {
      if (begin_ == end_) return false;  // the end, after a final line break
      line = std::string_view(buf_.data() + begin_, end_ - begin_);
      begin_ = end_;
      break;
    }
    scanned = begin_ + unread;  // fill() moved the tail to the front
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  ++line_number_;
  return true;
}

}  // namespace usher::traces
