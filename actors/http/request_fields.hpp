#pragma once
/// The fields a client sends with an admission, read from a JSON object: a
/// POST /v1/admit body or a WebSocket frame. Only the top-level members that
/// are asked for are kept, read with nlohmann's SAX parser, so no document
/// is built on the hot path (a DOM costs a map and a string per member).
/// One set of checks for both doors, so HTTP and WebSocket refuse the same
/// fields with the same words. Private to actors/http/.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/messages.hpp"

namespace usher::actors::http {

/// One top-level member of a JSON object.
struct json_member {
  enum class type { absent, null, string, integer, other };
  type is = type::absent;
  std::string text;         ///< type::string: the value
  std::int64_t number = 0;  ///< type::integer: the value (an integer past int64 is `other`)
};

enum class json_read { ok, malformed, not_object };

/// Reads the members of the JSON object `text` named in names[0..n) into
/// out[0..n); a name given twice in `text` keeps its last value, as a JSON
/// document would. Members not asked for are skipped, nested values too.
json_read read_members(std::string_view text, const std::string_view* names, json_member* out,
                       std::size_t n);

/// Checks model, product (strings of at most max_name bytes, or null) and
/// cost (an integer from 1 to max_cost, or null) and moves them into `msg`.
/// Returns the error message to answer with (code "invalid_field"), or ""
/// when they are good; then `*field`, when given, names the field at fault
/// (the error's `param`).
std::string take_admit_fields(json_member& model, json_member& product, const json_member& cost,
                              admit_request& msg, const char** field = nullptr);

/// Checks tokens (an integer from 0 to policies::max_request_tokens, or
/// null: input plus output tokens, for a tokens-per-minute rate) and moves
/// it into `msg`. Returns the error message, or "" when it is good.
std::string take_tokens(const json_member& tokens, admit_request& msg);

/// Checks a release's output_tokens (an integer from 0 to
/// policies::max_request_tokens, or null) and moves it into `msg`. Returns
/// the error message, or "" when it is good.
std::string take_output_tokens(const json_member& output_tokens, lease_request& msg);

/// Checks priority (an integer from 0 to policies::max_priority, or null:
/// the account's level; a level above the account's `priority.max` is cut
/// to it) and moves it into `msg`. Returns the error message, or "".
std::string take_priority(const json_member& priority, admit_request& msg);

inline constexpr std::size_t max_name = 256;
inline constexpr std::int64_t max_cost = 1'000'000'000;

}  // namespace usher::actors::http
