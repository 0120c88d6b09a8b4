#include "policies/request.hpp"

namespace usher::policies {

bool parse_kind(std::string_view text, kind& out) {
  if (text.empty() || text == "request") out = kind::request;
  else if (text == "ws_open") out = kind::ws_open;
  else if (text == "ws_request") out = kind::ws_request;
  else if (text == "ws_close") out = kind::ws_close;
  else if (text == "session") out = kind::session;
  else return false;
  return true;
}

std::string_view to_string(kind k) {
  switch (k) {
    case kind::request: return "request";
    case kind::ws_open: return "ws_open";
    case kind::ws_request: return "ws_request";
    case kind::ws_close: return "ws_close";
    case kind::session: return "session";
  }
  return "?";
}

std::string_view to_string(reason r) {
  switch (r) {
    case reason::none: return "";
    case reason::queue_full: return "queue_full";
    case reason::over_limit: return "over_limit";
    case reason::model_busy: return "model_busy";
    case reason::connection_cap: return "connection_cap";
    case reason::session_rate: return "session_rate";
    case reason::request_rate: return "request_rate";
    case reason::token_rate: return "token_rate";
    case reason::queue_timeout: return "queue_timeout";
    case reason::no_connection: return "no_connection";
    case reason::failed: return "failed";
    case reason::client_timeout: return "client_timeout";
    case reason::not_owner: return "not_owner";
    case reason::no_majority: return "no_majority";
    case reason::owner_down: return "owner_down";
    case reason::recovering: return "recovering";
    case reason::gate: return "gate";
  }
  return "?";
}

}  // namespace usher::policies
