#pragma once
/// The three kinds of connection the edge serves, each a small class in its
/// own file: an HTTP/1.1 keep-alive session (http_session.cpp), which hands
/// its socket over to an SSE stream (sse_session.cpp) or a WebSocket
/// (ws_session.cpp) when the route asks for one. Private to actors/http/.

#include <functional>
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

/// How a WebSocket handshake is answered: Server and X-Request-Id on the
/// 101, and `subprotocol` when not empty (answered_subprotocol()); a refusal
/// (Beast's, for a bad Sec-WebSocket-Key or -Version) as the node's JSON
/// error.
void decorate_ws_answer(string_response& res, const std::string& request_id,
                        std::string_view subprotocol = {});

/// GET /v1/realtime?model=M with a gateway (realtime_proxy.cpp): a realtime
/// session passed through to M's model server, in two steps. First the
/// session to the model server is opened; `done` gets whether it was, and
/// when not, the answer the client's upgrade gets instead (502, 504, or the
/// model server's own refusal). Then start_realtime_proxy() takes the
/// client's socket and relays frames both ways, taking a slot of the
/// account for each response. `connection` holds the ws_open lease, as for
/// start_ws_session; the proxy releases it when the session ends (or is
/// dropped before it starts).
class realtime_proxy;
struct realtime_upstream_answer {
  bool opened = false;
  string_response refusal;  ///< when not opened
};
void open_realtime_proxy(
    std::shared_ptr<edge::impl> edge, account_route route, std::uint64_t conn,
    lease_handle connection, std::string model, const gateway::upstream& to,
    const string_request& upgrade, std::string request_id, const asio::any_io_executor& ex,
    std::function<void(std::shared_ptr<realtime_proxy>, realtime_upstream_answer)> done);
void start_realtime_proxy(const std::shared_ptr<realtime_proxy>& proxy, beast::tcp_stream client,
                          string_request upgrade);

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
