#include "traces/csv_out.hpp"

#include <charconv>
#include <cstring>

#include "policies/input_error.hpp"

namespace usher::traces {

csv_out::csv_out(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
  if (file_ == nullptr)
    throw policies::input_error::in(path, std::string("cannot write: ") + std::strerror(errno));
  buf_.reserve(1 << 17);
}

csv_out::csv_out() : path_("(memory)") {}

csv_out::~csv_out() {
  if (file_ != nullptr) std::fclose(file_);
}

void csv_out::separator() {
  if (!first_in_row_) buf_.push_back(',');
  first_in_row_ = false;
}

csv_out& csv_out::field(std::string_view text) {
  separator();
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    buf_.append(text);
    return *this;
  }
  buf_.push_back('"');
  for (char c : text) {
    if (c == '"') buf_.push_back('"');
    buf_.push_back(c);
  }
  buf_.push_back('"');
  return *this;
}

csv_out& csv_out::field(std::int64_t n) {
  separator();
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof(tmp), n);
  buf_.append(tmp, r.ptr);
  return *this;
}

csv_out& csv_out::seconds(policies::usec t) {
  separator();
  policies::append_seconds(buf_, t);
  return *this;
}

csv_out& csv_out::empty() {
  separator();
  return *this;
}

csv_out& csv_out::fields(std::string_view formatted) {
  separator();
  buf_.append(formatted);
  return *this;
}

csv_out& csv_out::ratio3(std::int64_t numerator, std::int64_t denominator) {
  separator();
  if (denominator <= 0) denominator = 1;
  // Rounded to thousandths in integer arithmetic (no floating point drift).
  __int128 scaled = static_cast<__int128>(numerator) * 1000 * 2 / denominator;
  auto thousandths = static_cast<std::int64_t>((scaled + 1) / 2);
  char tmp[32];
  auto r = std::to_chars(tmp, tmp + sizeof(tmp), thousandths / 1000);
  buf_.append(tmp, r.ptr);
  char frac[4] = {static_cast<char>('0' + thousandths % 1000 / 100),
                  static_cast<char>('0' + thousandths % 100 / 10),
                  static_cast<char>('0' + thousandths % 10), 0};
  buf_.push_back('.');
  buf_.append(frac, 3);
  return *this;
}

void csv_out::end_row() {
  buf_.push_back('\n');
  first_in_row_ = true;
  flush_if_full();
}

void csv_out::flush_if_full() {
  if (file_ == nullptr || buf_.size() < (1 << 16)) return;
  if (std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size())
    throw policies::input_error::in(path_, std::string("write failed: ") + std::strerror(errno));
  buf_.clear();
}

void csv_out::close() {
  if (file_ == nullptr) return;
  bool ok = std::fwrite(buf_.data(), 1, buf_.size(), file_) == buf_.size();
  buf_.clear();
  ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  if (!ok) throw policies::input_error::in(path_, std::string("write failed: ") + std::strerror(errno));
}

}  // namespace usher::traces
