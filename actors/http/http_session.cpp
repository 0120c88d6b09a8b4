// One HTTP/1.1 keep-alive connection: reads a request, routes it, bridges it
// into an admission actor and writes the answer, then reads the next. While
// an admission is held (queued), it watches the socket: a client that leaves
// is cancelled out of the queue, and a lease granted to a client that already
// left is released (lease_handle).
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "actors/http/bridge.hpp"
#include "actors/http/key_hash.hpp"
#include "actors/http/responses.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

namespace {

constexpr auto idle_timeout = std::chrono::seconds(120);
constexpr auto write_timeout = std::chrono::seconds(30);
constexpr std::size_t max_name = 256;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket socket, std::shared_ptr<edge::impl> edge)
      : stream_(std::move(socket)), edge_(std::move(edge)) {}

  void read() {
    parser_.emplace();
    parser_->body_limit(edge_->cfg.max_body);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_read(ec);
                      });
  }

 private:
  // -- reading and writing --------------------------------------------------

  void on_read(beast::error_code ec) {
    stream_.expires_never();
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
      return close();
    if (ec == bhttp::error::body_limit)
      return send(error_response(413, "invalid_request", "body_too_large",
                                 "Request body over " + std::to_string(edge_->cfg.max_body) +
                                     " bytes",
                                 11, false));
    if (ec == bhttp::error::header_limit)
      return send(error_response(431, "invalid_request", "headers_too_large",
                                 "Request headers too large", 11, false));
    if (ec) {
      if (parser_->got_some() || buffer_.size() > 0)
        return send(error_response(400, "invalid_request", "bad_http", "Malformed HTTP request",
                                   11, false));
      return close();
    }
    req_ = parser_->release();
    route();
  }

  void send(string_response res, std::shared_ptr<lease_handle> lease = nullptr) {
    edge_->count(res.result_int());
    if (edge_->stopping) res.keep_alive(false);
    auto msg = std::make_shared<string_response>(std::move(res));
    bool keep = msg->keep_alive();
    stream_.expires_after(write_timeout);
    bhttp::async_write(stream_, *msg,
                       [self = shared_from_this(), msg, keep, lease](beast::error_code ec,
                                                                     std::size_t) {
                         // Delivered: the client holds the lease now.
                         if (!ec && lease) lease->keep();
                         if (ec || !keep) return self->close();
                         self->read();
                       });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  // Watches the idle socket while an answer is pending: readable with nothing
  // to read means the client closed its side.
  void watch(std::function<void()> on_gone) {
    stream_.socket().async_wait(tcp::socket::wait_read,
                                [self = shared_from_this(), on_gone](beast::error_code ec) {
                                  if (ec || !self->pending_) return;
                                  beast::error_code e;
                                  auto n = self->stream_.socket().available(e);
                                  if (!e && n > 0) return;  // a pipelined request: still here
                                  self->gone_ = true;
                                  on_gone();
                                });
  }

  // Ends a pending answer: stops the watch. Returns false when the client left.
  bool answered() {
    pending_ = false;
    beast::error_code ec;
    stream_.socket().cancel(ec);
    if (gone_) close();
    return !gone_;
  }

  // -- routing --------------------------------------------------------------

  void route() {
    std::string_view target(req_.target().data(), req_.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    auto method = req_.method();
    auto only = [&](bhttp::verb v, const char* allow) {
      if (method == v) return true;
      auto res = error_response(405, "invalid_request", "method_not_allowed",
                                "Method not allowed here", req_.version(), req_.keep_alive());
      res.set(bhttp::field::allow, allow);
      send(std::move(res));
      return false;
    };
    if (path == "/" || path == "/index.html") {
      if (!only(bhttp::verb::get, "GET")) return;
      string_response res{bhttp::status::ok, req_.version()};
      res.set(bhttp::field::content_type, "text/html; charset=utf-8");
      res.set(bhttp::field::cache_control, "no-store");
      res.keep_alive(req_.keep_alive());
      res.body() = dashboard_html();
      res.prepare_payload();
      return send(std::move(res));
    }
    if (path == "/metrics") {
      if (!only(bhttp::verb::get, "GET")) return;
      return metrics();
    }
    enum class kind { admit, release, renew, ticket, snapshot, stream, realtime, none };
    kind k = kind::none;
    std::string id;
    if (path == "/v1/admit") {
      if (!only(bhttp::verb::post, "POST")) return;
      k = kind::admit;
    } else if (starts_with(path, "/v1/leases/")) {
      auto rest = path.substr(std::string_view("/v1/leases/").size());
      auto slash = rest.find('/');
      id = std::string(rest.substr(0, slash));
      if (slash == std::string_view::npos) {
        if (!only(bhttp::verb::delete_, "DELETE")) return;
        k = kind::release;
      } else if (rest.substr(slash) == "/renew") {
        if (!only(bhttp::verb::post, "POST")) return;
        k = kind::renew;
      }
    } else if (starts_with(path, "/v1/tickets/")) {
      id = std::string(path.substr(std::string_view("/v1/tickets/").size()));
      if (!only(bhttp::verb::get, "GET")) return;
      k = kind::ticket;
    } else if (path == "/account/concurrency") {
      if (!only(bhttp::verb::get, "GET")) return;
      k = kind::snapshot;
    } else if (path == "/account/concurrency/stream") {
      if (!only(bhttp::verb::get, "GET")) return;
      k = kind::stream;
    } else if (path == "/v1/realtime") {
      if (!only(bhttp::verb::get, "GET")) return;
      k = kind::realtime;
    }
    if (k == kind::none || ((k == kind::release || k == kind::renew || k == kind::ticket) &&
                            (id.empty() || id.size() > 64 || id.find('/') != std::string::npos)))
      return send(error_response(404, "not_found", "unknown_route",
                                 "No route " + std::string(path), req_.version(),
                                 req_.keep_alive()));
    const account_route* r = edge_->authenticate(req_);
    if (!r)
      return send(error_response(401, "authentication_error", "invalid_api_key",
                                 "Missing or unknown API key (Authorization: Bearer KEY)",
                                 req_.version(), req_.keep_alive()));
    switch (k) {
      case kind::admit: return admit(*r);
      case kind::release: return lease(*r, id, lease_op::release);
      case kind::renew: return lease(*r, id, lease_op::renew);
      case kind::ticket: return ticket(*r, id);
      case kind::snapshot: return snapshot(*r);
      case kind::stream: return stream(*r);
      case kind::realtime: return realtime(*r);
      case kind::none: break;
    }
  }

  // -- routes ---------------------------------------------------------------

  void bad_request(const std::string& code, const std::string& message) {
    send(error_response(400, "invalid_request", code, message, req_.version(), req_.keep_alive()));
  }

  void admit(const account_route& r) {
    nlohmann::json body = nlohmann::json::object();
    if (!req_.body().empty()) {
      body = nlohmann::json::parse(req_.body(), nullptr, false);
      if (body.is_discarded()) return bad_request("malformed_json", "The body is not valid JSON");
      if (!body.is_object()) return bad_request("malformed_json", "The body must be a JSON object");
    }
    admit_request msg;
    msg.account = r.account;
    msg.request_id = edge_->next_request++;
    auto text = [&](const char* field, std::string& out) {
      auto i = body.find(field);
      if (i == body.end() || i->is_null()) return true;
      if (!i->is_string() || i->get_ref<const std::string&>().size() > max_name) {
        bad_request("invalid_field", std::string("'") + field + "' must be a string of at most " +
                                         std::to_string(max_name) + " bytes");
        return false;
      }
      out = i->get<std::string>();
      return true;
    };
    if (!text("model", msg.model) || !text("product", msg.product)) return;
    if (auto c = body.find("cost"); c != body.end() && !c->is_null()) {
      if (!c->is_number_integer() || c->get<std::int64_t>() < 1 ||
          c->get<std::int64_t>() > 1'000'000'000)
        return bad_request("invalid_field", "'cost' must be an integer from 1 to 1000000000");
      msg.cost = c->get<std::int64_t>();
    }
    std::string kind = "request";
    if (!text("kind", kind)) return;
    if (kind == "request") msg.what = policies::kind::request;
    else if (kind == "session") msg.what = policies::kind::session;
    else
      return bad_request("invalid_field",
                         "'kind' must be \"request\" or \"session\" (WebSocket kinds use "
                         "/v1/realtime)");
    auto prefer = req_[bhttp::field::prefer];
    msg.async = prefer.find("respond-async") != beast::string_view::npos;
    pending_ = true;
    gone_ = false;
    auto route = r;
    auto id = msg.request_id;
    if (!msg.async)
      watch([route, id] { caf::anon_send(route.actor, cancel_request{route.account, id}); });
    ask<admit_reply>(edge_->sys, edge_->io, r.actor, std::move(msg),
                     [self = shared_from_this(), route](std::optional<admit_reply> reply) {
                       self->on_admission(route, reply);
                     });
  }

  void on_admission(const account_route& r, const std::optional<admit_reply>& reply) {
    std::shared_ptr<lease_handle> lease;
    if (reply && reply->code == 200)
      lease = std::make_shared<lease_handle>(r.actor, r.account, reply->lease);
    if (!answered()) return;  // gone: the handle releases the lease
    if (!reply)
      return send(error_response(503, "unavailable", "stopping", "The node is stopping",
                                 req_.version(), false));
    send(admission_response(*reply, req_.version(), req_.keep_alive()), lease);
  }

  void lease(const account_route& r, const std::string& id, lease_op op) {
    pending_ = true;
    gone_ = false;
    ask<lease_reply>(edge_->sys, edge_->io, r.actor, lease_request{r.account, id, op},
                     [self = shared_from_this(), id, op](std::optional<lease_reply> reply) {
                       if (!self->answered()) return;
                       auto& q = self->req_;
                       if (!reply)
                         return self->send(error_response(503, "unavailable", "stopping",
                                                          "The node is stopping", q.version(),
                                                          false));
                       if (reply->code == 404)
                         return self->send(error_response(404, "not_found", "unknown_lease",
                                                          "No such lease for this account",
                                                          q.version(), q.keep_alive()));
                       nlohmann::ordered_json j;
                       j["lease"] = id;
                       if (op == lease_op::release) j["released"] = true;
                       else j["ttl_ms"] = reply->ttl_ms;
                       self->send(json_response(200, j.dump(), q.version(), q.keep_alive()));
                     });
  }

  void ticket(const account_route& r, const std::string& id) {
    pending_ = true;
    gone_ = false;
    watch([] {});
    ask<admit_reply>(edge_->sys, edge_->io, r.actor, ticket_poll{r.account, id},
                     [self = shared_from_this(), r](std::optional<admit_reply> reply) {
                       self->on_admission(r, reply);
                     });
  }

  void snapshot(const account_route& r) {
    pending_ = true;
    gone_ = false;
    ask<concurrency_snapshot>(
        edge_->sys, edge_->io, r.actor, usage_query{r.account},
        [self = shared_from_this()](std::optional<concurrency_snapshot> s) {
          if (!self->answered()) return;
          auto& q = self->req_;
          if (!s)
            return self->send(error_response(503, "unavailable", "stopping",
                                             "The node is stopping", q.version(), false));
          auto res = json_response(200, snapshot_json(*s), q.version(), q.keep_alive());
          res.set(bhttp::field::cache_control, "no-store");
          self->send(std::move(res));
        });
  }

  void stream(const account_route& r) {
    edge_->count(200);
    start_sse_session(stream_.release_socket(), edge_, r);
  }

  void realtime(const account_route& r) {
    if (!beast::websocket::is_upgrade(req_)) {
      auto res = error_response(426, "invalid_request", "upgrade_required",
                                "GET /v1/realtime is a WebSocket", req_.version(), false);
      res.set(bhttp::field::upgrade, "websocket");
      return send(std::move(res));
    }
    admit_request msg;
    msg.account = r.account;
    msg.request_id = edge_->next_request++;
    msg.what = policies::kind::ws_open;
    msg.conn = edge_->next_conn++;
    msg.holder_is_connection = true;
    pending_ = true;
    gone_ = false;
    auto conn = msg.conn;
    ask<admit_reply>(edge_->sys, edge_->io, r.actor, std::move(msg),
                     [self = shared_from_this(), r, conn](std::optional<admit_reply> reply) {
                       lease_handle held;
                       if (reply && reply->code == 200)
                         held = lease_handle(r.actor, r.account, reply->lease);
                       if (!self->answered()) return;
                       if (reply && (reply->code == 200 || reply->code == 1008)) {
                         self->edge_->count(101);
                         return start_ws_session(std::move(self->stream_), std::move(self->req_),
                                                 self->edge_, r, conn, std::move(held),
                                                 reply->code == 1008);
                       }
                       if (!reply)
                         return self->send(error_response(503, "unavailable", "stopping",
                                                          "The node is stopping",
                                                          self->req_.version(), false));
                       auto res = admission_response(*reply, self->req_.version(), false);
                       self->send(std::move(res));
                     });
  }

  void metrics() {
    auto& key = edge_->cfg.metrics_key_hash;
    if (!key.empty()) {
      auto auth = req_[bhttp::field::authorization];
      std::string_view a(auth.data(), auth.size());
      if (!starts_with(a, "Bearer ") || sha256_hex(a.substr(7)) != key)
        return send(error_response(401, "authentication_error", "invalid_api_key",
                                   "GET /metrics needs the metrics key", req_.version(),
                                   req_.keep_alive()));
    }
    struct gather {
      std::vector<account_metrics> all;
      std::size_t left = 0;
    };
    auto g = std::make_shared<gather>();
    g->left = edge_->cfg.actors.size();
    pending_ = true;
    gone_ = false;
    auto finish = [self = shared_from_this(), g] {
      if (!self->answered()) return;
      string_response res{bhttp::status::ok, self->req_.version()};
      res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
      res.keep_alive(self->req_.keep_alive());
      res.body() = metrics_text(*self->edge_, std::move(g->all));
      res.prepare_payload();
      self->send(std::move(res));
    };
    if (g->left == 0) return finish();
    for (auto& a : edge_->cfg.actors)
      ask<live_metrics>(edge_->sys, edge_->io, a, metrics_atom::value,
                        [g, finish](std::optional<live_metrics> m) {
                          if (m)
                            for (auto& x : m->accounts) g->all.push_back(std::move(x));
                          if (--g->left == 0) finish();
                        });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  string_request req_;
  std::shared_ptr<edge::impl> edge_;
  bool pending_ = false;  ///< an answer from an actor is awaited
  bool gone_ = false;     ///< the client left while it was
};

}  // namespace

void start_http_session(tcp::socket socket, std::shared_ptr<edge::impl> edge) {
  std::make_shared<http_session>(std::move(socket), std::move(edge))->read();
}

}  // namespace usher::actors::http
