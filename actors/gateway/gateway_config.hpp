#pragma once
/// The `[gateway]` section of a node config (docs/GATEWAY.md): where each
/// model's requests go once admitted, and how long the node waits for the
/// model server. Without the section the node is an admission service only
/// and the OpenAI routes answer 404, as before.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace usher::actors::gateway {

/// An upstream model server: `http://HOST:PORT[/PREFIX]`. Requests keep
/// their path (/v1/chat/completions) behind the prefix; a prefix ending in
/// /v1 (the OpenAI SDKs' base URL) loses that /v1, so either spelling works.
struct upstream {
  std::string host;
  std::uint16_t port = 80;
  std::string prefix;  ///< "" or "/path" without a trailing '/'
  std::string text;    ///< as configured, for messages and /v1/models
  /// The Host field sent upstream: host, or host:port when not 80.
  std::string host_field() const;
};

/// Parses `text`; returns "" and fills `out`, or says what is wrong.
std::string parse_upstream(std::string_view text, upstream& out);

struct gateway_config {
  bool enabled = false;
  std::optional<upstream> fallback;          ///< `upstream`: every model without its own
  std::map<std::string, upstream> by_model;  ///< `upstream.MODEL`
  /// Sent upstream as `Authorization: Bearer KEY` (the customer's key never
  /// is); "": no Authorization upstream.
  std::string upstream_key;
  std::chrono::milliseconds connect_timeout{5'000};
  /// From the request sent to the response's first byte (a non-streamed
  /// completion arrives whole at its end): 504 past it.
  std::chrono::milliseconds response_timeout{600'000};
  /// Once the response has begun, the upstream silent this long (a stalled
  /// stream): the call is cut and its slot freed.
  std::chrono::milliseconds idle_timeout{60'000};
  /// Request bodies of the gateway's routes up to this many bytes (413
  /// past it); the node's max_body holds for its other routes. OpenAI takes
  /// audio files up to 25 MB.
  std::size_t max_body = 32u << 20;
  /// Idle keep-alive connections kept per upstream for reuse.
  std::size_t pool_size = 64;
  /// `service_tier.NAME = LEVEL`: a request whose JSON body says
  /// "service_tier": "NAME" asks for that priority level (admit_request's
  /// priority, cut to its account's priority.max); a tier not listed, or
  /// none, asks for none. The body goes upstream unchanged.
  std::map<std::string, std::int16_t> service_tiers;

  /// The upstream of `model`, or nullptr: none (404 model_not_found).
  const upstream* upstream_of(const std::string& model) const {
    auto it = by_model.find(model);
    if (it != by_model.end()) return &it->second;
    return fallback ? &*fallback : nullptr;
  }
};

}  // namespace usher::actors::gateway
