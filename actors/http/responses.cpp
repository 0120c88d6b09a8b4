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
      return error_object("cancelled", "client_left", "The client left while queued");
    default:
      status = 503;
      return error_object("unavailable", "stopping", "The node is stopping");
  }
}

string_response admission_response(const admit_reply& r, unsigned version, bool keep_alive) {
  if (r.code == 200) {
    nlohmann::ordered_json j;
    j["lease"] = r.lease;
    j["waited_ms"] = r.waited_us / 1000;
    j["ttl_ms"] = r.lease_ttl_ms;
    return json_response(200, j.dump(), version, keep_alive);
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
