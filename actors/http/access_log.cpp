#include "actors/http/access_log.hpp"

#include <charconv>
#include <ctime>
#include <spdlog/logger.h>

namespace usher::actors::http {

namespace {

constexpr std::size_t batch_bytes = 16 * 1024;
constexpr std::chrono::milliseconds batch_time{200};

// `v` as a logfmt value: `-` when empty, quoted (with `"` and `\` escaped)
// when it holds a character that would end or split the value.
void append_value(std::string_view v, std::string& out) {
  if (v.empty()) {
    out += '-';
    return;
  }
  // A plain loop: find_first_of tests each character against the set by
  // a call, which cost more than the rest of the line.
  bool plain = true;
  for (char c : v) plain &= c != ' ' && c != '"' && c != '=' && c != '\\';
  if (plain) {
    out.append(v.data(), v.size());
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_int(std::int64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Microseconds as milliseconds with three decimals: 1234 -> 1.234.
void append_ms(std::int64_t us, std::string& out) {
  if (us < 0) {
    out += '-';
    return;
  }
  append_int(us / 1000, out);
  char frac[4] = {'.', static_cast<char>('0' + us % 1000 / 100),
                  static_cast<char>('0' + us % 100 / 10), static_cast<char>('0' + us % 10)};
  out.append(frac, 4);
}

}  // namespace

void append_access_line(const access_entry& e, std::chrono::system_clock::time_point now,
                        std::string& out) {
  // The second's text is cached per thread: gmtime_r once a second.
  thread_local std::int64_t second = -1;
  thread_local char stamp[24];
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  if (ms / 1000 != second) {
    second = ms / 1000;
    std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  }
  out += "time=";
  out += stamp;
  auto m = static_cast<int>(ms % 1000);
  char frac[6] = {'.', static_cast<char>('0' + m / 100), static_cast<char>('0' + m / 10 % 10),
                  static_cast<char>('0' + m % 10), 'Z', ' '};
  out.append(frac, 6);
  out += "request_id=";
  append_value(e.request_id, out);
  out += " client=";
  append_value(e.client, out);
  out += " account=";
  append_value(e.account, out);
  out += " method=";
  append_value(e.method, out);
  out += " route=";
  append_value(e.route, out);
  out += " status=";
  append_int(e.status, out);
  out += " code=";
  append_value(e.code, out);
  out += " wait_ms=";
  append_ms(e.wait_us, out);
  out += " lease=";
  append_value(e.lease, out);
  out += " ticket=";
  append_value(e.ticket, out);
  out += " duration_ms=";
  append_ms(e.duration_us, out);
  out += '\n';
}

access_log::access_log(std::shared_ptr<spdlog::logger> out, boost::asio::io_context& io)
    : out_(std::move(out)), timer_(io) {
  batch_.reserve(batch_bytes + 1024);
}

access_log::~access_log() { flush(); }

void access_log::add(const access_entry& e) {
  auto now = std::chrono::system_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  append_access_line(e, now, batch_);
  if (batch_.size() >= batch_bytes) return flush_locked();
  if (armed_) return;
  armed_ = true;
  timer_.expires_after(batch_time);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the edge is going, and flushes
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
    flush_locked();
  });
}

void access_log::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  flush_locked();
}

void access_log::flush_locked() {
  if (batch_.empty()) return;
  // One write of whole lines (the logger's format is "%v" with no line end).
  out_->info(std::string_view(batch_));
  batch_.clear();
}

}  // namespace usher::actors::http
