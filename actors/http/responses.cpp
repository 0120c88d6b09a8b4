#include "actors/http/responses.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace usher::actors::http {

using policies::reason;

namespace {

// Text from the network (a path, a header, a name) may hold any bytes, and
// nlohmann's default dump() throws on invalid UTF-8: every JSON the edge
// writes replaces such bytes with U+FFFD instead.
std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// The length of the valid UTF-8 sequence at the start of `s` (1..4), or 0
// when it is not one (a stray continuation byte, an overlong form, a
// surrogate, a value over U+10FFFF, or a cut-off sequence).
std::size_t utf8_sequence(std::string_view s) {
  auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // over U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

string_response json_response(unsigned status, const std::string& body, unsigned version,
                              bool keep_alive) {
  string_response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::server, "usher");
  res.set(bhttp::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = body;
  res.prepare_payload();
  return res;
}

std::string error_object(const std::string& type, const std::string& code,
                         const std::string& message, const char* param) {
  nlohmann::ordered_json j;
  j["message"] = message;
  j["type"] = type;
  if (param)
    j["param"] = param;
  else
    j["param"] = nullptr;
  j["code"] = code;
  return dump(j);
}

string_response error_response(unsigned status, const std::string& type, const std::string& code,
                               const std::string& message, unsigned version, bool keep_alive,
                               const char* param) {
  return json_response(status, "{\"error\":" + error_object(type, code, message, param) + "}",
                       version, keep_alive);
}

std::string refusal_object(const admit_reply& r, unsigned& status) {
  status = r.code;
  switch (r.code) {
    case 408:
      return error_object(error_type::timeout, "queue_timeout",
                          "Request Timeout: waited " + std::to_string(r.waited_us / 1000) +
                              " ms in the queue, the plan's max wait");
    case 429:
    case 1008:
      status = 429;
      switch (r.why) {
        case reason::queue_full:
          return error_object(error_type::rate_limit, "queue_full",
                              "Too Many Requests: every stream is busy and the queue is full");
        case reason::model_busy:
          return error_object(error_type::rate_limit, "model_busy",
                              "Rate limited: the model is busy, retry in a bit");
        case reason::connection_cap:
          return error_object(error_type::rate_limit, "connection_cap",
                              "Too many open WebSocket connections for this account");
        case reason::session_rate:
          return error_object(error_type::rate_limit, "session_rate", session_rate_reason);
        case reason::request_rate:
          return error_object(error_type::rate_limit, "request_rate",
                              "Rate limit reached for requests per minute");
        case reason::token_rate:
          return error_object(error_type::rate_limit, "token_rate",
                              "Rate limit reached for tokens per minute");
        case reason::gate:
          return error_object(error_type::rate_limit, "gate",
                              r.gate.empty()
                                  ? "Rate limited: a gate of the account's plan has no room"
                                  : "Rate limited: the plan's gate " + r.gate + " has no room");
        default:
          return error_object(error_type::rate_limit, "concurrency_limit",
                              "Rate limited: the account's concurrency is in use");
      }
    case 400:
      return error_object(error_type::invalid_request,
                          r.why == reason::no_connection ? "no_connection" : "too_many_names",
                          r.why == reason::no_connection
                              ? "The connection is not open"
                              : "Too many distinct models or products in use by this account at "
                                "once (the node's max_names_per_account)");
    case 404:
      return error_object(error_type::not_found, "not_found",
                          "No such lease or ticket for this account");
    case 410:
      return error_object(error_type::invalid_request, "lease_ended",
                          "Gone: the lease granted to this ticket has ended (released, or not "
                          "renewed within lease_ttl); admit again");
    case 499:
      // Counted 499 (left the queue) inside; on the wire only a poller of a
      // ticket given up meanwhile sees it (a sync waiter that left is gone).
      status = 410;
      return error_object(error_type::invalid_request, "ticket_cancelled",
                          "Gone: the ticket was given up (DELETE /v1/tickets/{id}) while this "
                          "request waited on it");
    default:
      status = 503;
      if (r.why == reason::recovering)
        return error_object(
            error_type::server, "recovering",
            "Service Unavailable: the account's node started recently (or took the account "
            "over in a cluster) and recovers the leases granted before; new grants resume in " +
                std::to_string(r.retry_after_s) + " s");
      if (r.why == reason::not_owner)
        return error_object(error_type::server, "owner_moving",
                            "Service Unavailable: the account's state is moving between cluster "
                            "nodes; retry");
      if (r.why == reason::no_majority)
        return error_object(error_type::server, "no_majority",
                            "Service Unavailable: this node cannot reach a majority of its "
                            "cluster and grants nothing; retry, at another node if you can");
      if (r.why == reason::owner_down)
        return error_object(error_type::server, "owner_down",
                            "Service Unavailable: the cluster node that owns the account went "
                            "down; another takes it over, retry");
      // Draining (or stopped): Retry-After says to come back, to another
      // node or to this one restarted.
      return error_object(error_type::server, "draining",
                          "Service Unavailable: the node is shutting down and takes no new "
                          "requests; retry");
  }
}

std::string_view error_code_of(std::string_view body) {
  constexpr std::string_view key = "\"code\":\"";
  auto at = body.rfind(key);
  if (at == std::string_view::npos) return {};
  auto v = body.substr(at + key.size());
  return v.substr(0, v.find('"'));
}

void append_json_string(std::string_view text, std::string& out) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  // Runs that need no escape are appended whole.
  std::size_t plain = 0;
  while (plain < text.size()) {
    auto u = static_cast<unsigned char>(text[plain]);
    if (u < 0x20 || u == '"' || u == '\\' || u >= 0x80) break;
    ++plain;
  }
  out.append(text.data(), plain);
  text.remove_prefix(plain);
  while (!text.empty()) {
    char c = text[0];
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      // Valid UTF-8 passes through; anything else becomes U+FFFD, so the
      // answer is always valid JSON whatever bytes the client sent.
      auto n = utf8_sequence(text);
      if (n == 0) out += "\xEF\xBF\xBD", n = 1;
      else out.append(text.data(), n);
      text.remove_prefix(n);
      continue;
    }
    text.remove_prefix(1);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      switch (c) {
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 0xF];
      }
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_admitted_json(const admit_reply& r, std::string& out) {
  out += "{\"lease\":";
  append_json_string(r.lease, out);
  out += ",\"waited_ms\":";
  out += std::to_string(r.waited_us / 1000);
  out += ",\"ttl_ms\":";
  out += std::to_string(r.lease_ttl_ms);
  out += '}';
}

namespace {

void append_status_line(unsigned status, unsigned version, std::string& out) {
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  auto why = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out.append(why.data(), why.size());
  out += "\r\n";
}

}  // namespace

void append_wire(const string_response& res, std::string& out) {
  append_status_line(res.result_int(), res.version(), out);
  for (const auto& f : res) {
    auto name = f.name_string();
    auto value = f.value();
    out.append(name.data(), name.size());
    out += ": ";
    out.append(value.data(), value.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += res.body();
}

void append_json_wire(unsigned status, std::string_view body, unsigned version, bool keep_alive,
                      std::string& out, std::string_view request_id) {
  // The fields json_response sets, in its order (Beast writes a Connection
  // field only when it differs from the version's default).
  append_status_line(status, version, out);
  out += "Server: usher\r\nContent-Type: application/json\r\n";
  if (version == 10 && keep_alive) out += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) out += "Connection: close\r\n";
  if (!request_id.empty()) {
    out += "X-Request-Id: ";
    out.append(request_id.data(), request_id.size());
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out.append(body.data(), body.size());
}

string_response admission_response(const admit_reply& r, unsigned version, bool keep_alive) {
  if (r.code == 200) {
    std::string body;
    append_admitted_json(r, body);
    return json_response(200, body, version, keep_alive);
  }
  if (r.code == 202) {
    nlohmann::ordered_json j;
    j["ticket"] = r.ticket;
    auto res = json_response(202, dump(j), version, keep_alive);
    res.set(bhttp::field::location, "/v1/tickets/" + r.ticket);
    return res;
  }
  unsigned status = 0;
  auto body = "{\"error\":" + refusal_object(r, status) + "}";
  auto res = json_response(status, body, version, keep_alive);
  // Retry-After, and retry-after-ms, which the OpenAI SDKs read first. A
  // 408 waited the plan's whole max wait: a retry may come at once, and the
  // SDKs do retry it, so one second spreads the retries out.
  std::int64_t after = r.retry_after_s;
  if (status == 408) after = std::max<std::int64_t>(after, 1);
  if ((status == 408 || status == 429 || status == 503) && after > 0) {
    res.set(bhttp::field::retry_after, std::to_string(after));
    res.set("retry-after-ms", std::to_string(after * 1000));
  }
  return res;
}

std::string snapshot_json(const concurrency_snapshot& s) {
  nlohmann::ordered_json j;
  if (s.limit < 0) j["limit"] = nullptr;
  else j["limit"] = s.limit;
  j["used_cost"] = s.used_cost;
  j["request_count"] = s.requests.size();
  j["requests"] = nlohmann::ordered_json::array();
  for (auto& r : s.requests) {
    nlohmann::ordered_json x;
    x["id"] = r.id;
    x["cost"] = r.cost;
    x["model"] = r.model;
    x["started_at"] = r.started_at_ms;
    x["duration_ms"] = r.duration_ms;
    j["requests"].push_back(std::move(x));
  }
  return dump(j);
}

std::string cluster_status_json(const cluster::cluster_status& s) {
  nlohmann::ordered_json j;
  j["node"] = s.node;
  j["epoch"] = s.epoch;
  j["majority"] = s.majority;
  j["members"] = nlohmann::ordered_json::array();
  for (auto& m : s.members)
    j["members"].push_back({{"name", m.name}, {"address", m.address}, {"state", m.state}});
  j["owners"] = nlohmann::ordered_json::object();
  for (auto& [account, owner] : s.owners) {
    if (owner.empty()) j["owners"][account] = nullptr;
    else j["owners"][account] = owner;
  }
  j["limits"] = s.limits;
  if (!s.limits_next.empty()) {
    j["limits_next"] = s.limits_next;
    j["limits_waiting_for"] = s.limits_waiting;
  }
  return dump(j);
}

}  // namespace usher::actors::http
