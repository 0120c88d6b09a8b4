#pragma once
/// The model an OpenAI-style request names, read before any slot is taken:
/// the top-level "model" of a JSON body, or the "model" field of a
/// multipart/form-data body (POST /v1/audio/transcriptions).

#include <cstdint>
#include <string>
#include <string_view>

namespace usher::actors::gateway {

enum class model_read {
  ok,
  missing,         ///< no model (or JSON null)
  not_string,      ///< a model that is no string, or longer than max_name
  malformed_json,  ///< the body is not a JSON object
  bad_multipart,   ///< multipart without a boundary, or cut short
};

/// Reads the model of `body` sent with `content_type` into `model`.
/// A content type of multipart/form-data reads the form; anything else is
/// read as JSON. With `service_tier`, also the JSON body's top-level
/// "service_tier" when it is a string (OpenAI's per-request tier: "flex",
/// "priority", ...; left as it is otherwise), in the same pass.
model_read read_model(std::string_view content_type, std::string_view body, std::string& model,
                     std::string* service_tier = nullptr);

/// The tokens a request may use, for a plan's tokens_per_minute, estimated
/// before it runs as OpenAI does: its characters (the JSON body's bytes, a
/// token per `chars_per_token`, rounded up) plus the answer it reserves
/// (`max_tokens`, `max_completion_tokens` or `max_output_tokens`, the
/// largest given). A multipart body (audio) counts only what it reserves.
/// At most policies::max_request_tokens. Call after read_model() accepted it.
std::uint32_t estimate_tokens(std::string_view content_type, std::string_view body,
                              std::int64_t chars_per_token = 4);

/// The value of form field `name` in a multipart/form-data `body` with
/// `boundary`, or false: no such field, or the body is cut short.
bool multipart_field(std::string_view body, std::string_view boundary, std::string_view name,
                     std::string& value);

/// The boundary parameter of a multipart/form-data content type ("" when
/// the type is another, or has none).
std::string multipart_boundary(std::string_view content_type);

}  // namespace usher::actors::gateway
