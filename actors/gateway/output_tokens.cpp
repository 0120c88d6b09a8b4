#include "actors/gateway/output_tokens.hpp"

#include <algorithm>
#include <limits>

namespace usher::actors::gateway {

namespace {
bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
constexpr std::string_view data_field = "data:";
constexpr std::string_view done_value = "[DONE]";
}  // namespace

void output_token_count::feed(const char* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    read_usage(data[i]);
    if (event_stream_) read_event(data[i]);
  }
}

std::uint32_t output_token_count::tokens() const {
  if (after_ == after_key::digits) return static_cast<std::uint32_t>(number_);  // the body's last bytes
  if (usage_seen_) return usage_;
  return event_stream_ ? events_ - std::min(events_, done_events_) : 0;
}

void output_token_count::read_usage(char c) {
  // `: N` after a key; anything else means the key was not usage's (a string
  // value that happens to read "output_tokens").
  switch (after_) {
    case after_key::none: break;
    case after_key::colon:
      if (blank(c)) return;
      after_ = c == ':' ? after_key::value : after_key::none;
      if (after_ == after_key::value) return;
      break;
    case after_key::value:
      if (blank(c)) return;
      if (c >= '0' && c <= '9') {
        after_ = after_key::digits;
        number_ = static_cast<std::uint64_t>(c - '0');
        return;
      }
      after_ = after_key::none;
      break;
    case after_key::digits:
      if (c >= '0' && c <= '9') {
        number_ = std::min<std::uint64_t>(number_ * 10 + static_cast<std::uint64_t>(c - '0'), std::uint64_t{std::numeric_limits<std::uint32_t>::max()});
        return;
      }
      usage_seen_ = true;  // the last count wins: a stream's final usage chunk
      usage_ = static_cast<std::uint32_t>(number_);
      after_ = after_key::none;
      break;
  }
  // Each key's only border is its quote: a mismatch restarts at 1 on a quote.
  for (auto& k : keys_) {
    if (c == k.key[k.at]) {
      if (++k.at == k.key.size()) {
        k.at = 0;
        after_ = after_key::colon;
      }
    } else {
      k.at = c == k.key[0] ? 1 : 0;
    }
  }
}

void output_token_count::read_event(char c) {
  if (c == '\n') {
    line_ = line::data;
    line_at_ = 0;
    return;
  }
  // One more character of `literal` where the line stands: false on a
  // mismatch (the line is then none of ours) and until the literal is whole.
  auto whole = [&](std::string_view literal) {
    if (c != literal[line_at_]) {
      line_ = line::other;
      return false;
    }
    return ++line_at_ == literal.size();
  };
  switch (line_) {
    case line::data:
      if (whole(data_field)) {
        ++events_;
        line_ = line::after_data;
      }
      break;
    case line::after_data:
      if (c == ' ') break;
      line_ = line::done;  // this character is the value's first
      line_at_ = 0;
      [[fallthrough]];
    case line::done:
      if (whole(done_value)) {
        ++done_events_;
        line_ = line::other;
      }
      break;
    case line::other: break;
  }
}

}  // namespace usher::actors::gateway
