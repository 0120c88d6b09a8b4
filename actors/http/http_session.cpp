// One HTTP/1.1 keep-alive connection: reads a request, routes it, bridges it
// into an admission actor and writes the answer, then reads the next. While
// an answer is pending it keeps a read open on the socket, which is also the
// read of the next request: a client that leaves (end of stream) while
// queued is cancelled out of the queue at once, and a lease granted to a
// client that already left is released (lease_handle). Bytes that arrive
// while an answer is pending (a pipelined request) wait in the buffer.
//
// The hot path costs one I/O handler per request: the request's read. The
// admission actor then runs on this I/O thread (io_unit), its answer runs
// right after the actor's turn (bridge), and the answer is written straight
// into the socket, with an asynchronous write only for what the socket does
// not take at once.
//
// Timeouts cost no timer per request: the edge sweeps its connections every
// few seconds (edge::impl::idle_watch) and closes one whose request has not
// arrived within idle_timeout or whose answer has not been written within
// write_timeout. A connection waiting for an admission has no timeout.
#include <boost/beast/websocket.hpp>

#include "actors/http/bridge.hpp"
#include "actors/http/key_hash.hpp"
#include "actors/http/request_fields.hpp"
#include "actors/http/responses.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

namespace {

using steady = std::chrono::steady_clock;

constexpr auto idle_timeout = std::chrono::seconds(120);
constexpr auto write_timeout = std::chrono::seconds(30);
constexpr std::size_t read_size = 8 * 1024;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

class http_session : public edge::impl::idle_watch,
                     public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket socket, std::shared_ptr<edge::impl> edge)
      : socket_(std::move(socket)), ex_(socket_.get_executor()), edge_(std::move(edge)) {}

  ~http_session() override { edge_->unwatch_idle(this); }

  void start() {
    waiting_since_ = steady::now();
    beast::error_code ec;
    socket_.non_blocking(true, ec);  // for write(); asynchronous operations ignore it
    edge_->watch_idle(shared_from_this());
    read();
  }

  void sweep(steady::time_point now) override {
    asio::post(ex_, [w = weak_from_this(), now] {
      auto self = w.lock();
      if (!self || self->closed_ || self->handed_over_) return;
      if (self->writing_ ? now - self->write_started_ > write_timeout
                         : !self->pending_ && now - self->waiting_since_ > idle_timeout)
        self->close();
    });
  }

 private:
  // -- reading and writing --------------------------------------------------

  // Reads more bytes unless a read is open already.
  void read() {
    if (reading_ || closed_) return;
    reading_ = true;
    socket_.async_read_some(buffer_.prepare(read_size),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->on_bytes(ec, n);
                            });
  }

  void on_bytes(beast::error_code ec, std::size_t n) {
    reading_ = false;
    if (closed_ || handed_over_) return;
    buffer_.commit(n);
    if (ec) {
      if (pending_) {
        // The client left while its answer is pending.
        gone_ = true;
        if (on_gone_) caf::anon_send(on_gone_->actor, on_gone_->cancel);
        on_gone_.reset();
        return;
      }
      if (writing_) return;  // the next read after the write sees the end again
      // A request cut short by the end of the stream is answered 400.
      bool partial = buffer_.size() > 0 || (parser_ && parser_->got_some());
      if (ec != asio::error::eof || !partial) return close();
      return parse_error(bhttp::error::partial_message);
    }
    if (pending_ || writing_) return;  // a pipelined request: parsed after the answer
    parse();
  }

  // Parses the buffered bytes: routes a complete request, or reads more.
  // One request at a time: a parse posted after an answer (a pipelined
  // request) may find that a read already started the next one.
  void parse() {
    if (pending_ || writing_ || closed_ || handed_over_) return;
    if (!parser_) {
      parser_.emplace();
      parser_->body_limit(edge_->cfg.max_body);
      parser_->header_limit(16 * 1024);
      parser_->eager(true);
    }
    while (buffer_.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      auto used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (ec) return parse_error(ec);
      if (used == 0) break;
    }
    if (!parser_->is_done()) return read();
    req_ = parser_->release();
    parser_.reset();
    route();
  }

  void parse_error(beast::error_code ec) {
    parser_.reset();
    buffer_.consume(buffer_.size());
    if (ec == bhttp::error::body_limit)
      return send(error_response(413, "invalid_request", "body_too_large",
                                 "Request body over " + std::to_string(edge_->cfg.max_body) +
                                     " bytes",
                                 11, false));
    if (ec == bhttp::error::header_limit)
      return send(error_response(431, "invalid_request", "headers_too_large",
                                 "Request headers too large", 11, false));
    send(error_response(400, "invalid_request", "bad_http", "Malformed HTTP request", 11, false));
  }

  void send(string_response res, std::shared_ptr<lease_handle> lease = nullptr) {
    edge_->count(res.result_int());
    if (edge_->stopping) res.keep_alive(false);
    out_.clear();
    append_wire(res, out_);
    write(res.keep_alive(), std::move(lease));
  }

  // The hot paths (admit, release): a JSON answer written without building a
  // message; the same bytes as send(json_response(...)).
  void send_json(unsigned status, std::string_view body,
                 std::shared_ptr<lease_handle> lease = nullptr) {
    edge_->count(status);
    bool keep = req_.keep_alive() && !edge_->stopping;
    out_.clear();
    append_json_wire(status, body, req_.version(), keep, out_);
    write(keep, std::move(lease));
  }

  // Writes out_: at once when the socket takes it all (the usual case for a
  // small answer: no completion handler, no wait), the rest asynchronously.
  void write(bool keep, std::shared_ptr<lease_handle> lease) {
    writing_ = true;
    write_started_ = steady::now();
    beast::error_code ec;
    std::size_t n = socket_.write_some(asio::buffer(out_), ec);  // the socket is non-blocking
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {}, n = 0;
    if (ec || n == out_.size()) return written(ec, keep, lease, true);
    asio::async_write(socket_, asio::buffer(out_) + n,
                      [self = shared_from_this(), keep, lease = std::move(lease)](
                          beast::error_code ec, std::size_t) {
                        self->written(ec, keep, lease, false);
                      });
  }

  void written(beast::error_code ec, bool keep, const std::shared_ptr<lease_handle>& lease,
               bool at_once) {
    writing_ = false;
    // Delivered: the client holds the lease now.
    if (!ec && lease) lease->keep();
    if (ec || !keep) return close();
    waiting_since_ = steady::now();
    // A pipelined request is parsed in a handler of its own, so a client
    // cannot make one handler answer request after request.
    if (at_once && buffer_.size() > 0)
      return asio::post(ex_, [self = shared_from_this()] { self->parse(); });
    parse();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  // An answer from an actor is awaited; the open read tells if the client
  // leaves meanwhile. `on_gone`: what to send then (a sync admission leaves
  // its queue).
  struct gone_action {
    admission_actor actor;
    cancel_request cancel;
  };
  void await_answer(std::optional<gone_action> on_gone = std::nullopt) {
    pending_ = true;
    gone_ = false;
    on_gone_ = std::move(on_gone);
    read();
  }

  // Ends a pending answer. Returns false when the client left.
  bool answered() {
    pending_ = false;
    on_gone_.reset();
    if (gone_) close();
    return !gone_;
  }

  // Gives the socket to another session (SSE, WebSocket): no read of ours
  // may stay open on it.
  tcp::socket hand_over() {
    handed_over_ = true;
    edge_->unwatch_idle(this);  // the new session has its own timeouts
    beast::error_code ec;
    if (reading_) socket_.cancel(ec);
    socket_.non_blocking(false, ec);  // as the new session's stream expects
    return std::move(socket_);
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
    enum class kind { admit, release, renew, ticket, ticket_cancel, snapshot, stream, realtime, none };
    kind k = kind::none;
    auto& id = id_;  // the lease or ticket named in the path
    id.clear();
    if (path == "/v1/admit") {
      if (!only(bhttp::verb::post, "POST")) return;
      k = kind::admit;
    } else if (starts_with(path, "/v1/leases/")) {
      auto rest = path.substr(std::string_view("/v1/leases/").size());
      auto slash = rest.find('/');
      id.assign(rest.substr(0, slash));
      if (slash == std::string_view::npos) {
        if (!only(bhttp::verb::delete_, "DELETE")) return;
        k = kind::release;
      } else if (rest.substr(slash) == "/renew") {
        if (!only(bhttp::verb::post, "POST")) return;
        k = kind::renew;
      }
    } else if (starts_with(path, "/v1/tickets/")) {
      id.assign(path.substr(std::string_view("/v1/tickets/").size()));
      if (method == bhttp::verb::delete_) {
        k = kind::ticket_cancel;
      } else {
        if (!only(bhttp::verb::get, "GET, DELETE")) return;
        k = kind::ticket;
      }
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
    bool names_id = k == kind::release || k == kind::renew || k == kind::ticket ||
                    k == kind::ticket_cancel;
    if (k == kind::none || (names_id &&
                            (id.empty() || id.size() > 64 || id.find('/') != std::string::npos)))
      return send(error_response(404, "not_found", "unknown_route",
                                 "No route " + std::string(path), req_.version(),
                                 req_.keep_alive()));
    const account_route* r = edge_->authenticate(req_, key_cache_);
    if (!r)
      return send(error_response(401, "authentication_error", "invalid_api_key",
                                 "Missing or unknown API key (Authorization: Bearer KEY)",
                                 req_.version(), req_.keep_alive()));
    switch (k) {
      case kind::admit: return admit(*r);
      case kind::release: return lease(*r, id, lease_op::release);
      case kind::renew: return lease(*r, id, lease_op::renew);
      case kind::ticket: return ticket(*r, id);
      case kind::ticket_cancel: return cancel_ticket(*r, id);
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
    static constexpr std::string_view names[] = {"model", "product", "cost", "kind"};
    json_member f[4];
    if (!req_.body().empty()) {
      switch (read_members(req_.body(), names, f, 4)) {
        case json_read::malformed: return bad_request("malformed_json", "The body is not valid JSON");
        case json_read::not_object:
          return bad_request("malformed_json", "The body must be a JSON object");
        case json_read::ok: break;
      }
    }
    admit_request msg;
    msg.account = r.account;
    msg.request_id = edge_->next_request++;
    if (auto e = take_admit_fields(f[0], f[1], f[2], msg); !e.empty())
      return bad_request("invalid_field", e);
    auto& kind = f[3];
    bool is_text = kind.is == json_member::type::string;
    if (kind.is == json_member::type::absent || kind.is == json_member::type::null ||
        (is_text && kind.text == "request"))
      msg.what = policies::kind::request;
    else if (is_text && kind.text == "session")
      msg.what = policies::kind::session;
    else if (!is_text || kind.text.size() > max_name)
      return bad_request("invalid_field", "'kind' must be a string of at most " +
                                              std::to_string(max_name) + " bytes");
    else
      return bad_request("invalid_field",
                         "'kind' must be \"request\" or \"session\" (WebSocket kinds use "
                         "/v1/realtime)");
    auto prefer = field_value(req_, bhttp::field::prefer);
    msg.async = prefer.find("respond-async") != std::string_view::npos;
    std::optional<gone_action> on_gone;
    if (!msg.async) on_gone = gone_action{r.actor, cancel_request{r.account, msg.request_id}};
    await_answer(std::move(on_gone));
    edge_->to_actors.ask<admit_reply>(r.actor, std::move(msg), socket_.get_executor(),
                                      [self = shared_from_this(), route = &r](
                                          std::optional<admit_reply> reply) {
                                        self->on_admission(*route, reply);
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
    if (reply->code == 200) {
      body_.clear();
      append_admitted_json(*reply, body_);
      return send_json(200, body_, std::move(lease));
    }
    send(admission_response(*reply, req_.version(), req_.keep_alive()), lease);
  }

  void lease(const account_route& r, const std::string& id, lease_op op) {
    await_answer();
    edge_->to_actors.ask<lease_reply>(
        r.actor, lease_request{r.account, id, op}, socket_.get_executor(),
        [self = shared_from_this(), op](std::optional<lease_reply> reply) {
          self->on_lease_reply(reply, "lease", "unknown_lease", "No such lease for this account",
                               op == lease_op::release ? "released" : "ttl_ms");
        });
  }

  void cancel_ticket(const account_route& r, const std::string& id) {
    await_answer();
    edge_->to_actors.ask<lease_reply>(
        r.actor, ticket_cancel{r.account, id}, socket_.get_executor(),
        [self = shared_from_this()](std::optional<lease_reply> reply) {
          self->on_lease_reply(reply, "ticket", "unknown_ticket",
                               "No such ticket for this account", "cancelled");
        });
  }

  // The answer to a request naming a lease or ticket (id_): 503 when the
  // node stops, 404 when the account has no such one, else 200
  // {"<field>": id, "<done>": true} ("ttl_ms": the renewed TTL).
  void on_lease_reply(const std::optional<lease_reply>& reply, const char* field,
                      const char* unknown_code, const char* unknown_message, const char* done) {
    if (!answered()) return;
    if (!reply)
      return send(error_response(503, "unavailable", "stopping", "The node is stopping",
                                 req_.version(), false));
    if (reply->code == 404)
      return send(error_response(404, "not_found", unknown_code, unknown_message,
                                 req_.version(), req_.keep_alive()));
    body_.assign("{\"").append(field).append("\":");
    append_json_string(id_, body_);
    body_.append(",\"").append(done).append("\":");
    if (std::string_view(done) == "ttl_ms") body_ += std::to_string(reply->ttl_ms);
    else body_ += "true";
    body_ += '}';
    send_json(200, body_);
  }

  void ticket(const account_route& r, const std::string& id) {
    await_answer();
    edge_->to_actors.ask<admit_reply>(r.actor, ticket_poll{r.account, id},
                                    socket_.get_executor(),
                     [self = shared_from_this(), route = &r](std::optional<admit_reply> reply) {
                       self->on_admission(*route, reply);
                     });
  }

  void snapshot(const account_route& r) {
    await_answer();
    edge_->to_actors.ask<concurrency_snapshot>(r.actor, usage_query{r.account},
        socket_.get_executor(),
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
    start_sse_session(hand_over(), edge_, r);
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
    // No read while pending: the socket goes to the WebSocket next.
    pending_ = true;
    gone_ = false;
    auto conn = msg.conn;
    edge_->to_actors.ask<admit_reply>(r.actor, std::move(msg), socket_.get_executor(),
                     [self = shared_from_this(), r, conn](std::optional<admit_reply> reply) {
                       lease_handle held;
                       if (reply && reply->code == 200)
                         held = lease_handle(r.actor, r.account, reply->lease);
                       if (!self->answered()) return;
                       if (reply && (reply->code == 200 || reply->code == 1008)) {
                         self->edge_->count(101);
                         return start_ws_session(beast::tcp_stream(self->hand_over()),
                                                 std::move(self->req_),
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
      std::string_view a = field_value(req_, bhttp::field::authorization);
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
    await_answer();
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
      edge_->to_actors.ask<live_metrics>(a, metrics_atom::value, socket_.get_executor(),
                        [g, finish](std::optional<live_metrics> m) {
                          if (m)
                            for (auto& x : m->accounts) g->all.push_back(std::move(x));
                          if (--g->left == 0) finish();
                        });
  }

  tcp::socket socket_;
  asio::any_io_executor ex_;  ///< the socket's (a strand with several I/O threads)
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  string_request req_;
  std::shared_ptr<edge::impl> edge_;
  std::string out_;   ///< the response being written
  std::string body_;  ///< scratch for a hot path's JSON body
  std::string id_;    ///< the lease or ticket the pending request names
  edge::impl::key_cache key_cache_;
  std::optional<gone_action> on_gone_;
  steady::time_point waiting_since_;  ///< when the connection began waiting for a request
  steady::time_point write_started_;
  bool pending_ = false;      ///< an answer from an actor is awaited
  bool gone_ = false;         ///< the client left while it was
  bool reading_ = false;      ///< a read is open
  bool writing_ = false;      ///< a write is open
  bool closed_ = false;
  bool handed_over_ = false;  ///< the socket belongs to an SSE or WebSocket session
};

}  // namespace

void start_http_session(tcp::socket socket, std::shared_ptr<edge::impl> edge) {
  std::make_shared<http_session>(std::move(socket), std::move(edge))->start();
}

}  // namespace usher::actors::http
