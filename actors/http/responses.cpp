#include "actors/http/responses.hpp"

#include <nlohmann/json.hpp>

namespace usher::actors::http {

using policies::reason;

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
                         const std::string& message) {
  nlohmann::ordered_json j;
  j["message"] = message;
  j["type"] = type;
  j["code"] = code;
  return j.dump();
}

string_response error_response(unsigned status, const std::string& type, const std::string& code,
                               const std::string& message, unsigned version, bool keep_alive) {
  return json_response(status, "{\"error\":" + error_object(type, code, message) + "}", version,
                       keep_alive);
}

std::string refusal_object(const admit_reply& r, unsigned& status) {
  status = r.code;
  switch (r.code) {
    case 408:
      return error_object("timeout", "queue_timeout",
                          "Request Timeout: waited " + std::to_string(r.waited_us / 1000) +
                              " ms in the queue, the plan's max wait");
    case 429:
    case 1008:
      status = 429;
      switch (r.why) {
        case reason::queue_full:
          return error_object("rate_limit", "queue_full",
                              "Too Many Requests: every stream is busy and the queue is full");
        case reason::model_busy:
          return error_object("rate_limit", "model_busy",
                              "Rate limited: the model is busy, retry in a bit");
        case reason::connection_cap:
          return error_object("rate_limit", "connection_cap",
                              "Too many open WebSocket connections for this account");
        case reason::session_rate:
          return error_object("rate_limit", "session_rate", session_rate_reason);
        default:
          return error_object("rate_limit", "concurrency_limit",
                              "Rate limited: the account's concurrency is in use");
      }
    case 400:
      return error_object("invalid_request", r.why == reason::no_connection ? "no_connection"
                                                                             : "too_many_names",
                          r.why == reason::no_connection
                              ? "The connection is not open"
                              : "Too many distinct models or products");
    case 404:
      return error_object("not_found", "not_found", "No such lease or ticket for this account");
    case 499:
      return error_object("cancelled", "client_left",
                          "The client left the queue (it disconnected or gave up its ticket)");
    default:
      status = 503;
      return error_object("unavailable", "stopping", "The node is stopping");
  }
}

void append_json_string(std::string_view text, std::string& out) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  // Runs that need no escape are appended whole.
  std::size_t plain = 0;
  while (plain < text.size()) {
    auto u = static_cast<unsigned char>(text[plain]);
    if (u < 0x20 || u == '"' || u == '\\') break;
    ++plain;
  }
  out.append(text.data(), plain);
  text.remove_prefix(plain);
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
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
                      std::string& out) {
  // The fields json_response sets, in its order (Beast writes a Connection
  // field only when it differs from the version's default).
  append_status_line(status, version, out);
  out += "Server: usher\r\nContent-Type: application/json\r\n";
  if (version == 10 && keep_alive) out += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) out += "Connection: close\r\n";
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
    auto res = json_response(202, j.dump(), version, keep_alive);
    res.set(bhttp::field::location, "/v1/tickets/" + r.ticket);
    return res;
  }
  unsigned status = 0;
  auto body = "{\"error\":" + refusal_object(r, status) + "}";
  auto res = json_response(status, body, version, keep_alive);
  if (status == 429 && r.retry_after_s > 0)
    res.set(bhttp::field::retry_after, std::to_string(r.retry_after_s));
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
  return j.dump();
}

}  // namespace usher::actors::http
