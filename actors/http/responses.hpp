#pragma once
/// Every HTTP answer of the edge is built here: JSON bodies, the error shape
/// {"error":{"message":..,"type":..,"param":..,"code":..}} (OpenAI's, so
/// clients built for it read ours), and the one mapping from an admission
/// reply to a status, body and Retry-After. Private to actors/http/.

#include <string>
#include <string_view>

#include "actors/http/edge_state.hpp"

namespace usher::actors::http {

/// An error body's `type`, by status: OpenAI's names (docs/SERVE.md, "Errors").
namespace error_type {
inline constexpr const char* invalid_request =
    "invalid_request_error";                                           ///< 400 405 410 413 426 431
inline constexpr const char* authentication = "authentication_error";  ///< 401
inline constexpr const char* not_found = "not_found_error";            ///< 404
inline constexpr const char* timeout = "timeout_error";                ///< 408
inline constexpr const char* rate_limit = "rate_limit_error";          ///< 429
inline constexpr const char* server = "server_error";                  ///< 500 503
}  // namespace error_type

/// The WebSocket close reason of the session-rate seed.
inline constexpr const char* session_rate_reason =
    "Unauthorized connection: Too many concurrent sessions";

/// The reason of a WebSocket closed with 1013 (try again later) because a
/// cluster member could not renew the leases its connection holds
/// (lease_keeper.hpp).
inline constexpr const char* lease_lost_reason = "Admission lost: reconnect";

string_response json_response(unsigned status, const std::string& body, unsigned version,
                              bool keep_alive);

/// `param`: the request field at fault (JSON null when nullptr).
string_response error_response(unsigned status, const std::string& type, const std::string& code,
                               const std::string& message, unsigned version, bool keep_alive,
                               const char* param = nullptr);

/// The error object alone: {"message":..,"type":..,"param":..,"code":..}.
std::string error_object(const std::string& type, const std::string& code,
                         const std::string& message, const char* param = nullptr);

/// The `code` of an error object or body (its last member), for the access
/// log; empty when it has none.
std::string_view error_code_of(std::string_view error_body);

/// An admission (or ticket) reply as the client sees it. `code` 1008 over
/// HTTP becomes 429 with the seed's reason text, and 499 (a ticket given up
/// while polled) 410 `ticket_cancelled`: no non-standard status on the wire.
string_response admission_response(const admit_reply& r, unsigned version, bool keep_alive);

/// The error object for a refused admission (what a WebSocket error frame
/// carries), and the HTTP status it maps to.
std::string refusal_object(const admit_reply& r, unsigned& status);

/// Appends the wire form of `res` to `out`: status line, fields, blank line,
/// body (what Beast's serializer writes for a response with a
/// Content-Length, without its buffer machinery).
void append_wire(const string_response& res, std::string& out);

/// Appends the wire form of json_response(status, body, version,
/// keep_alive) to `out` without building the message (the hot paths:
/// admit and release), with an X-Request-Id field unless `request_id` is "".
void append_json_wire(unsigned status, std::string_view body, unsigned version, bool keep_alive,
                      std::string& out, std::string_view request_id = {});

/// `text` as a JSON string literal, quotes included (escapes '"', '\\' and
/// control characters; valid UTF-8 passes through, every invalid sequence
/// becomes U+FFFD), so the result is valid JSON whatever bytes `text` holds.
void append_json_string(std::string_view text, std::string& out);

/// Appends the body of a 200 admission: {"lease":..,"waited_ms":..,"ttl_ms":..}.
void append_admitted_json(const admit_reply& r, std::string& out);

/// The weighted seed's payload: {"limit":..,"used_cost":..,"request_count":..,"requests":[..]}.
std::string snapshot_json(const concurrency_snapshot& s);

/// GET /v1/cluster: {"node":..,"epoch":..,"majority":..,"members":[{"name","address","state"}],
/// "owners":{"ACCOUNT":"NODE"}} (docs/CLUSTER.md); an owner is null while none is known.
std::string cluster_status_json(const cluster::cluster_status& s);

}  // namespace usher::actors::http
