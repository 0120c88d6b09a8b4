#pragma once
/// The three kinds of connection the edge serves, each a small class in its
/// own file: an HTTP/1.1 keep-alive session (http_session.cpp), which hands
/// its socket over to an SSE stream (sse_session.cpp) or a WebSocket
/// (ws_session.cpp) when the route asks for one. Private to actors/http/.

#include <memory>

#include "actors/http/edge_state.hpp"
#include "actors/http/lease_handle.hpp"

namespace usher::actors::http {

/// Serves HTTP requests on `socket` until the client closes it.
void start_http_session(tcp::socket socket, std::shared_ptr<edge::impl> edge);

/// GET /account/concurrency/stream: a frame on connect, then every 2 s.
/// `request_id`: the X-Request-Id of its answer.
void start_sse_session(tcp::socket socket, std::shared_ptr<edge::impl> edge, account_route route,
                       const std::string& request_id);

/// GET /v1/realtime after the actor admitted (or refused with 1008) the
/// connection. `connection` holds the ws_open lease (empty when refused);
/// with `policy_close` the socket is accepted and closed with 1008.
/// `request_id`: the X-Request-Id of the handshake's answer.
void start_ws_session(beast::tcp_stream stream, string_request upgrade,
                      std::shared_ptr<edge::impl> edge, account_route route, std::uint64_t conn,
                      lease_handle connection, bool policy_close, std::string request_id);

/// The dashboard page served at GET /.
const std::string& dashboard_html();

/// The operator view served at GET /operator (every account; its data needs
/// the metrics key).
const std::string& operator_html();

/// GET /metrics body from every admission actor's report.
/// `refusals_as_429`: edge::impl::refusals_as_429_now(), read before the
/// actors were asked for `accounts`.
std::string metrics_text(const edge::impl& edge, std::vector<account_metrics> accounts,
                         const std::map<std::string, std::int64_t>& refusals_as_429);

}  // namespace usher::actors::http
