#pragma once
/// How many tokens an answer relayed by the gateway had: what a per-token
/// adaptive limit learns from (docs/PLANS.md, "Adaptive limits"). Fed the
/// answer's bytes piece by piece as they pass (a number split across two
/// pieces is read whole), it reads:
///   - the answer's own count when it gives one: the last `"completion_tokens":
///     N` (Chat Completions, Completions) or `"output_tokens": N` (Responses)
///     of its `usage`, exact;
///   - otherwise, for an SSE stream, one token per `data:` event other than
///     `[DONE]`: OpenAI-compatible servers send a token per chunk (a stream
///     asked with `stream_options.include_usage` ends with the exact count).
/// Costs one pass over the bytes and no allocation.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace usher::actors::gateway {

class output_token_count {
 public:
  /// `event_stream`: the answer is `text/event-stream`.
  explicit output_token_count(bool event_stream = false) : event_stream_(event_stream) {}

  void feed(const char* data, std::size_t n);

  /// The count as read so far; 0 when the answer gave none (and is no stream).
  std::uint32_t tokens() const;

 private:
  /// Where the reader is in `"completion_tokens"` / `"output_tokens"`, then in
  /// `: N` after one of them.
  struct key_match {
    std::string_view key;
    std::size_t at = 0;  ///< characters of `key` matched
  };
  enum class after_key : std::uint8_t { none, colon, value, digits };
  enum class line : std::uint8_t { data, after_data, done, other };

  void read_usage(char c);
  void read_event(char c);

  key_match keys_[2] = {{"\"completion_tokens\""}, {"\"output_tokens\""}};
  after_key after_ = after_key::none;
  std::uint64_t number_ = 0;
  bool usage_seen_ = false;
  std::uint32_t usage_ = 0;

  // SSE events: `data:` at the start of a line, and whether it says [DONE].
  bool event_stream_ = false;
  line line_ = line::data;   ///< what the current line is matched against
  std::size_t line_at_ = 0;  ///< characters of it matched
  std::uint32_t events_ = 0;
  std::uint32_t done_events_ = 0;
};

}  // namespace usher::actors::gateway
