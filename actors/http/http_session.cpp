// One HTTP/1.1 keep-alive connection: reads a request, routes it, bridges it
// into an admission actor and writes the answer, then reads the next. While
// an answer is pending it keeps a read open on the socket, which is also the
// read of the next request: a client that leaves (end of stream) while
// queued is cancelled out of the queue at once, and a lease granted to a
// client that already left is released (lease_handle). Bytes that arrive
// while an answer is pending (a pipelined request) wait in the buffer, and
// the read stays open behind them, so a client that pipelines and then
// leaves is still seen leaving. Past max_pipelined bytes buffered the read
// stops (back-pressure, as before): a client that sends that much ahead is
// seen leaving only once its pending answer is written.
//
// No input may end the process or strand a client: an exception while a
// request is routed answers 500 and closes the connection (the edge counts
// and reports it), never unwinds into the I/O loop.
//
// Every answer carries the request's X-Request-Id (or one made up); a HEAD
// request is routed as a GET and answered with the same fields, no body.
//
// The hot path costs one I/O handler per request: the request's read. The
// admission actor then runs on this I/O thread (io_unit), its answer runs
// right after the actor's turn (bridge), and the answer is written straight
// into the socket, with an asynchronous write only for what the socket does
// not take at once.
//
// Timeouts cost no timer per request: the session tells the edge which phase
// it is in (edge::impl::tracked_conn; a lock per change, two per keep-alive
// request), and the edge's periodic sweep closes one whose request has not
// come complete within request_timeout (a new connection, a slowloris), that
// sat idle between requests beyond idle_timeout, or whose answer has not been
// written within write_timeout. A connection waiting for an admission has no
// timeout. The edge also closes the oldest idle connections to make room at
// its connection cap or at the open-file limit.
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "actors/gateway/realtime_events.hpp"
#include "actors/gateway/request_model.hpp"
#include "actors/gateway/upstream_fetch.hpp"
#include "actors/gateway/upstream_call.hpp"
#include "actors/http/account_usage.hpp"
#include "actors/http/bridge.hpp"
#include "actors/http/key_hash.hpp"
#include "actors/http/request_fields.hpp"
#include "actors/http/responses.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

namespace {

using conn_phase = edge::impl::conn_phase;

constexpr std::size_t read_size = 8 * 1024;
constexpr std::size_t header_limit = 16 * 1024;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

class http_session : public edge::impl::tracked_conn,
                     public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket socket, std::shared_ptr<edge::impl> edge)
      : socket_(std::move(socket)), ex_(socket_.get_executor()), edge_(std::move(edge)) {}

  ~http_session() override { edge_->remove_conn(this); }

  void start() {
    beast::error_code ec;
    socket_.non_blocking(true, ec);  // for write(); asynchronous operations ignore it
    edge_->add_conn(shared_from_this());  // reading: a new connection owes a request
    if (edge_->access) {
      auto peer = socket_.remote_endpoint(ec);
      if (!ec) client_ = peer.address().to_string();
    }
    read();
  }

  // Timed out or shed by the edge: closes unless it got busy meanwhile. A
  // request begun and not complete within request_timeout is answered 408
  // first (RFC 9110 15.5.9), so a slow client learns why; a connection that
  // sent nothing, or one shed to make room, is just closed.
  void doom(edge::impl::conn_end why) override {
    asio::post(ex_, [w = weak_from_this(), why] {
      auto self = w.lock();
      if (!self || self->closed_ || self->handed_over_) return;
      if (!self->edge_->confirm_end(self.get(), why)) return;
      if (why == edge::impl::conn_end::request_timeout && self->request_begun())
        return self->request_timed_out();
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
      if (pending_) return client_left();

      if (writing_) return;  // the next read after the write sees the end again
      // A request cut short by the end of the stream is answered 400.
      bool partial = buffer_.size() > 0 || (parser_ && parser_->got_some());
      if (ec != asio::error::eof || !partial) return close();
      return parse_error(bhttp::error::partial_message);
    }
    if (pending_ && !upgrading_) {
      // A pipelined request: parsed after the answer. Keep reading behind
      // it, or a client that leaves now would hold its queue place.
      if (buffer_.size() < max_pipelined()) return read();
      return;
    }
    if (pending_ || writing_) return;  // parsed after the answer
    parse();
  }

  // Bytes a client may send ahead while it waits for an answer before reads
  // stop: at least one more request of the largest size the parser accepts,
  // and room for a long pipeline of small ones (1 MiB). Only a client with a
  // pending answer (an authenticated request) can fill it.
  std::size_t max_pipelined() const {
    return std::max<std::size_t>(std::size_t{1} << 20,
                                 edge_->cfg.max_body + header_limit + read_size);
  }

  // The client left (or was cut off) while its answer is pending: a queued
  // admission leaves its queue; the answer, when it comes, is dropped (a
  // lease in it released).
  void client_left() {
    gone_ = true;
    if (call_) call_->cancel();  // its end (proxied()) closes the connection
    if (on_gone_) caf::anon_send(on_gone_->actor, on_gone_->cancel);
    on_gone_.reset();
  }

  // Parses the buffered bytes: routes a complete request, or reads more.
  // One request at a time: a parse posted after an answer (a pipelined
  // request) may find that a read already started the next one.
  void parse() {
    if (pending_ || writing_ || closed_ || handed_over_) return;
    if (!parser_) {
      parser_.emplace();
      continue_sent_ = false;
      // With a gateway, the head is parsed alone first: its route picks the
      // body limit (an OpenAI request may carry a long context or an audio
      // file; an admission body is small). The parser checks a
      // Content-Length against its limit within the head, so it starts with
      // the larger one.
      body_limit_ = edge_->cfg.max_body;
      if (edge_->cfg.gateway) body_limit_ = std::max(body_limit_, edge_->cfg.gateway->max_body);
      parser_->body_limit(body_limit_);
      parser_->header_limit(header_limit);
      parser_->eager(!edge_->cfg.gateway);
    }
    while (buffer_.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      auto used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (ec) return parse_error(ec);
      if (parser_->is_header_done() && !parser_->eager()) {
        auto target = parser_->get().target();
        std::string_view path(target.data(), std::min(target.size(), target.find('?')));
        body_limit_ = is_gateway_route(path) ? edge_->cfg.gateway->max_body : edge_->cfg.max_body;
        if (auto length = parser_->content_length(); length && *length > body_limit_)
          return parse_error(bhttp::error::body_limit);
        parser_->body_limit(body_limit_);  // no body octet parsed yet
        parser_->eager(true);
        continue;
      }
      if (used == 0) break;
    }
    if (!parser_->is_done()) {
      if (parser_->is_header_done()) answer_expect_continue();
      // Bytes of a request: its request_timeout runs (from the connection's
      // start, or from the first bytes after an answer). None: idle.
      bool begun = buffer_.size() > 0 || parser_->got_some() || phase_ == conn_phase::reading;
      enter(begun ? conn_phase::reading : conn_phase::idle);
      return read();
    }
    enter(conn_phase::busy);
    req_ = parser_->release();
    parser_.reset();
    head_ = req_.method() == bhttp::verb::head;
    auto given = req_["X-Request-Id"];
    edge_->request_id({given.data(), given.size()}, rid_);
    if (edge_->access) log_start(true);
    try {
      route();
    } catch (const std::exception& e) {
      internal_error(e);
    }
  }

  // A head with `Expect: 100-continue` whose body is still to come, and
  // within the route's limit (a larger one was refused with 413 already):
  // the client may send it now (RFC 9110 10.1.1). curl asks so for a large
  // upload, an audio file say, and otherwise waits a second before sending.
  // The interim line is one small send on a socket nothing else writes to
  // now; if it cannot go at once, the client sends after its own wait.
  void answer_expect_continue() {
    if (continue_sent_) return;
    continue_sent_ = true;
    const auto& head = parser_->get();
    if (head.version() < 11) return;
    auto expect = field_value(head, bhttp::field::expect);
    if (!beast::iequals(beast::string_view(expect.data(), expect.size()), "100-continue")) return;
    static constexpr std::string_view line = "HTTP/1.1 100 Continue\r\n\r\n";
    beast::error_code ec;
    socket_.send(asio::buffer(line.data(), line.size()), MSG_DONTWAIT | MSG_NOSIGNAL, ec);
  }

  // route() threw: whatever the request held is given up and the client
  // gets a 500 (or, when an answer was already on its way, a closed
  // connection), so the connection never hangs without an answer.
  void internal_error(const std::exception& e) {
    edge_->report_internal_error("HTTP request", e);
    if (pending_) {
      client_left();
      return close();
    }
    if (writing_) return close();
    send(error_response(500, error_type::server, "internal_error", "Internal error", 11, false));
  }

  bool request_begun() const {
    return !writing_ && !pending_ && (buffer_.size() > 0 || (parser_ && parser_->got_some()));
  }

  void request_timed_out() {
    refuse_unfinished(error_response(
        408, error_type::invalid_request, "request_timeout",
        "The request was not complete within " +
            std::to_string(edge_->cfg.request_timeout.count()) + " ms",
        11, false));
  }

  void parse_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit)
      return refuse_unfinished(error_response(
          413, error_type::invalid_request, "body_too_large",
          "Request body over " + std::to_string(body_limit_) + " bytes", 11, false));
    if (ec == bhttp::error::header_limit)
      return refuse_unfinished(error_response(431, error_type::invalid_request,
                                              "headers_too_large", "Request headers too large",
                                              11, false));
    refuse_unfinished(error_response(400, error_type::invalid_request, "bad_http",
                                     "Malformed HTTP request", 11, false));
  }

  // Answers a request that was never read whole (and closes: `res` is not
  // keep-alive): what was read of it is dropped.
  void refuse_unfinished(string_response res) {
    parser_.reset();
    buffer_.consume(buffer_.size());
    head_ = false;
    edge_->request_id({}, rid_);  // no request to take one from
    if (edge_->access) log_start(false);
    send(std::move(res));
  }

  void send(string_response res, std::shared_ptr<lease_handle> lease = nullptr) {
    edge_->count(res.result_int());
    if (edge_->access) log_access(res.result_int(), res.body());
    if (edge_->stopping) res.keep_alive(false);
    res.set("X-Request-Id", rid_);
    out_.clear();
    append_wire(res, out_);
    if (head_) out_.resize(out_.size() - res.body().size());
    write(res.keep_alive(), std::move(lease));
  }

  // The hot paths (admit, release): a JSON answer written without building a
  // message; the same bytes as send(json_response(...)).
  void send_json(unsigned status, std::string_view body,
                 std::shared_ptr<lease_handle> lease = nullptr) {
    edge_->count(status);
    if (edge_->access) log_access(status, {});
    bool keep = req_.keep_alive() && !edge_->stopping;
    out_.clear();
    append_json_wire(status, body, req_.version(), keep, out_, rid_);
    if (head_) out_.resize(out_.size() - body.size());
    write(keep, std::move(lease));
  }

  // Writes out_: at once when the socket takes it all (the usual case for a
  // small answer: no completion handler, no wait), the rest asynchronously.
  void write(bool keep, std::shared_ptr<lease_handle> lease) {
    writing_ = true;
    beast::error_code ec;
    std::size_t n = socket_.write_some(asio::buffer(out_), ec);  // the socket is non-blocking
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {}, n = 0;
    if (ec || n == out_.size()) return written(ec, keep, lease, true);
    enter(conn_phase::writing);
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
    // A pipelined request is parsed in a handler of its own, so a client
    // cannot make one handler answer request after request.
    if (at_once && buffer_.size() > 0)
      return asio::post(ex_, [self = shared_from_this()] { self->parse(); });
    parse();
  }

  // -- the access log (only with edge_->access) ---------------------------

  // A request begins: `parsed` false for bytes that are no request.
  void log_start(bool parsed) {
    log_ = logged{};
    log_.parsed = parsed;
    log_.start = std::chrono::steady_clock::now();
  }

  // The line of the request being answered `status`; an error's code is
  // read from its body (the last member of every error object).
  void log_access(unsigned status, std::string_view body, std::string_view code = {}) {
    if (code.empty() && status >= 400) code = error_code_of(body);
    access_entry e;
    e.request_id = rid_;
    e.client = client_;
    e.account = log_.account;
    if (log_.parsed) e.method = {req_.method_string().data(), req_.method_string().size()};
    e.route = log_.route;
    e.status = status;
    e.code = code;
    e.wait_us = log_.wait_us;
    e.lease = log_.lease;
    e.ticket = log_.ticket;
    e.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - log_.start)
                        .count();
    edge_->access->add(e);
  }

  // Tells the edge the connection's phase when it changes.
  void enter(conn_phase p) {
    if (phase_ == p) return;
    phase_ = p;
    edge_->set_phase(this, p);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    edge_->remove_conn(this);
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
    upgrading_ = false;
    on_gone_.reset();
    if (gone_) close();
    return !gone_;
  }

  // Gives the socket to another session (SSE, WebSocket): no read of ours
  // may stay open on it.
  tcp::socket hand_over() {
    handed_over_ = true;
    edge_->remove_conn(this);  // the new session counts itself, with its own timeouts
    beast::error_code ec;
    if (reading_) socket_.cancel(ec);
    socket_.non_blocking(false, ec);  // as the new session's stream expects
    return std::move(socket_);
  }

  // -- routing --------------------------------------------------------------

  void route() {
    std::string_view target(req_.target().data(), req_.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    auto method = head_ ? bhttp::verb::get : req_.method();  // send() drops a HEAD's body
    auto only = [&](bhttp::verb v, const char* allow) {
      if (method == v) return true;
      auto res = error_response(405, error_type::invalid_request, "method_not_allowed",
                                "Method not allowed here", req_.version(), req_.keep_alive());
      res.set(bhttp::field::allow, allow);
      send(std::move(res));
      return false;
    };
    if (path == "/healthz" || path == "/readyz") {
      log_.route = path == "/readyz" ? "readyz" : "healthz";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      return health(path == "/readyz");
    }
    if (path == "/" || path == "/index.html") {
      log_.route = "dashboard";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      return send(page_response(dashboard_html(), req_.version(), req_.keep_alive()));
    }
    if (path == "/metrics") {
      log_.route = "metrics";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      return metrics();
    }
    if (path == "/v1/cluster") {
      log_.route = "cluster";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      return cluster_status();
    }
    // The dashboards' routes (account_usage.hpp): the operator view, its data
    // (behind the metrics key) and the caller's own counters.
    if (path == "/operator") {
      log_.route = "operator";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      return send(page_response(operator_html(), req_.version(), req_.keep_alive()));
    }
    if (path == "/metrics/accounts") {
      log_.route = "metrics_accounts";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      return accounts_usage();
    }
    if (path == "/account/metrics") {
      log_.route = "account_metrics";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      const account_route* r = edge_->authenticate(req_, key_cache_);
      if (!r) return unauthorized("Missing or unknown API key (Authorization: Bearer KEY)");
      if (edge_->access) log_.account = r->account;
      return account_usage(*r);
    }
    // The OpenAI routes of the gateway (docs/GATEWAY.md); without one, they
    // are unknown routes as before.
    if (edge_->cfg.gateway) {
      if (is_gateway_route(path)) {
        log_.route = "gateway";
        if (!only(bhttp::verb::post, "POST")) return;
        const account_route* r = edge_->authenticate(req_, key_cache_);
        if (!r) return unauthorized("Missing or unknown API key (Authorization: Bearer KEY)");
        if (edge_->access) log_.account = r->account;
        return gateway_call(*r);
      }
      if (path == "/v1/models") {
        log_.route = "models";
        if (!only(bhttp::verb::get, "GET, HEAD")) return;
        if (!edge_->authenticate(req_, key_cache_))
          return unauthorized("Missing or unknown API key (Authorization: Bearer KEY)");
        return models();
      }
    }
    enum class kind { admit, release, renew, ticket, ticket_cancel, snapshot, stream, realtime, none };
    kind k = kind::none;
    auto& id = id_;  // the lease or ticket named in the path
    id.clear();
    if (path == "/v1/admit") {
      log_.route = "admit";
      if (!only(bhttp::verb::post, "POST")) return;
      k = kind::admit;
    } else if (starts_with(path, "/v1/leases/")) {
      auto rest = path.substr(std::string_view("/v1/leases/").size());
      auto slash = rest.find('/');
      id.assign(rest.substr(0, slash));
      if (slash == std::string_view::npos) {
        log_.route = "lease_release";
        if (!only(bhttp::verb::delete_, "DELETE")) return;
        k = kind::release;
      } else if (rest.substr(slash) == "/renew") {
        log_.route = "lease_renew";
        if (!only(bhttp::verb::post, "POST")) return;
        k = kind::renew;
      }
    } else if (starts_with(path, "/v1/tickets/")) {
      id.assign(path.substr(std::string_view("/v1/tickets/").size()));
      if (method == bhttp::verb::delete_) {
        log_.route = "ticket_cancel";
        k = kind::ticket_cancel;
      } else {
        log_.route = "ticket_poll";
        if (!only(bhttp::verb::get, "GET, HEAD, DELETE")) return;
        k = kind::ticket;
      }
    } else if (path == "/account/concurrency") {
      log_.route = "concurrency";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      k = kind::snapshot;
    } else if (path == "/account/concurrency/stream") {
      log_.route = "concurrency_stream";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      k = kind::stream;
    } else if (path == "/v1/realtime") {
      log_.route = "realtime";
      if (!only(bhttp::verb::get, "GET, HEAD")) return;
      k = kind::realtime;
    }
    bool names_id = k == kind::release || k == kind::renew || k == kind::ticket ||
                    k == kind::ticket_cancel;
    if (k == kind::none || (names_id &&
                            (id.empty() || id.size() > 64 || id.find('/') != std::string::npos)))
      return send(error_response(404, error_type::not_found, "unknown_route",
                                 "No route " + std::string(path), req_.version(),
                                 req_.keep_alive()));
    if (k == kind::none) log_.route = "";
    const account_route* r = edge_->authenticate(req_, key_cache_);
    if (!r) return unauthorized("Missing or unknown API key (Authorization: Bearer KEY)");
    if (edge_->access) {
      log_.account = r->account;
      if (k == kind::release || k == kind::renew) log_.lease = id;
      if (k == kind::ticket || k == kind::ticket_cancel) log_.ticket = id;
    }
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

  void bad_request(const std::string& code, const std::string& message,
                   const char* param = nullptr) {
    send(error_response(400, error_type::invalid_request, code, message, req_.version(),
                        req_.keep_alive(), param));
  }

  // 401 with the challenge of RFC 6750: error="invalid_token" when a key
  // was sent and is not known, no error when none was sent.
  void unauthorized(const std::string& message) {
    auto res = error_response(401, error_type::authentication, "invalid_api_key", message,
                              req_.version(), req_.keep_alive());
    bool sent = !field_value(req_, bhttp::field::authorization).empty();
    res.set(bhttp::field::www_authenticate,
            sent ? R"(Bearer realm="usher", error="invalid_token")" : R"(Bearer realm="usher")");
    send(std::move(res));
  }

  // 503 with Retry-After: the node drains (`draining`) or its actors are
  // gone (`stopping`); another node, or this one restarted, takes a retry.
  void unavailable(bool draining) {
    auto res = draining ? error_response(503, error_type::server, "draining",
                                         "Service Unavailable: the node is shutting down and "
                                         "takes no new requests; retry",
                                         req_.version(), req_.keep_alive())
                        : error_response(503, error_type::server, "stopping",
                                         "The node is stopping", req_.version(), false);
    res.set(bhttp::field::retry_after, "1");
    send(std::move(res));
  }

  // GET /healthz: the process serves (200). GET /readyz: it takes new work
  // (200), or not and why (503: draining; a cluster node without a majority
  // through edge_config::not_ready). No key: probes and load balancers ask.
  void health(bool readiness) {
    const char* why = readiness ? edge_->not_ready() : nullptr;
    std::string body = "{\"status\":\"ok\"}";
    if (why) body = std::string("{\"status\":\"not_ready\",\"reason\":\"") + why + "\"}";
    auto res = json_response(why ? 503 : 200, body, req_.version(), req_.keep_alive());
    res.set(bhttp::field::cache_control, "no-store");
    send(std::move(res));
  }

  // Reads the members `names` of the request's JSON body into `out` (an
  // empty body has none). False, with the 400 sent, when it is not a JSON
  // object.
  bool read_body(const std::string_view* names, json_member* out, std::size_t n) {
    if (req_.body().empty()) return true;
    switch (read_members(req_.body(), names, out, n)) {
      case json_read::malformed: return bad_request("malformed_json", "The body is not valid JSON"), false;
      case json_read::not_object:
        return bad_request("malformed_json", "The body must be a JSON object"), false;
      case json_read::ok: break;
    }
    return true;
  }

  void admit(const account_route& r) {
    static constexpr std::string_view names[] = {"model", "product", "cost", "kind", "tokens", "priority"};
    json_member f[6];
    if (!read_body(names, f, 6)) return;
    admit_request msg;
    msg.account = r.account;
    msg.key = r.key;
    msg.request_id = edge_->next_request++;
    const char* field = nullptr;
    if (auto e = take_admit_fields(f[0], f[1], f[2], msg, &field); !e.empty())
      return bad_request("invalid_field", e, field);
    if (auto e = take_tokens(f[4], msg); !e.empty()) return bad_request("invalid_field", e, "tokens");
    if (auto e = take_priority(f[5], msg); !e.empty())
      return bad_request("invalid_field", e, "priority");
    auto& kind = f[3];
    bool is_text = kind.is == json_member::type::string;
    if (kind.is == json_member::type::absent || kind.is == json_member::type::null ||
        (is_text && kind.text == "request"))
      msg.what = policies::kind::request;
    else if (is_text && kind.text == "session")
      msg.what = policies::kind::session;
    else if (!is_text || kind.text.size() > max_name)
      return bad_request(
          "invalid_field",
          "'kind' must be a string of at most " + std::to_string(max_name) + " bytes", "kind");
    else
      return bad_request("invalid_field",
                         "'kind' must be \"request\" or \"session\" (WebSocket kinds use "
                         "/v1/realtime)",
                         "kind");
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

  // `own_lease`: the lease in a 200 was granted to this request, so it is
  // released if the answer never reaches the client. A ticket's lease is the
  // ticket's (a poller that left leaves it to the next poll, DELETE or the
  // lease TTL), and every poller of the ticket is told the same lease.
  void on_admission(const account_route& r, const std::optional<admit_reply>& reply,
                    bool own_lease = true) {
    std::shared_ptr<lease_handle> lease;
    if (reply && reply->code == 200 && own_lease)
      lease = std::make_shared<lease_handle>(r.actor, r.account, reply->lease);
    if (!answered()) return;  // gone: the handle releases the lease
    if (!reply) return unavailable(false);
    // The session-rate seed's 1008 goes on the wire as 429: counted so.
    if (reply->code == 1008) edge_->count_refusal_as_429(r.account);
    if (edge_->access) {
      if (reply->code == 200 || reply->code == 408) log_.wait_us = reply->waited_us;
      if (!reply->lease.empty()) log_.lease = reply->lease;
      if (!reply->ticket.empty()) log_.ticket = reply->ticket;
    }
    if (reply->code == 200) {
      body_.clear();
      append_admitted_json(*reply, body_);
      return send_json(200, body_, std::move(lease));
    }
    auto res = admission_response(*reply, req_.version(), req_.keep_alive());
    // The Prefer of POST /v1/admit was honoured (RFC 7240); a ticket's
    // poller that gets 202 (max pollers) sent none.
    if (reply->code == 202 && own_lease) res.set("Preference-Applied", "respond-async");
    send(std::move(res), lease);
  }

  void lease(const account_route& r, const std::string& id, lease_op op) {
    lease_request msg{r.account, id, op};
    msg.key = r.key;
    if (op == lease_op::renew && !req_.body().empty()) {
      // What the lease was granted for ({"model":..,"cost":..,"product":..},
      // every field optional): a node recovering after a restart adopts an
      // unknown lease with it (docs/SERVE.md, "Restarts and recovery").
      static constexpr std::string_view names[] = {"model", "product", "cost"};
      json_member f[3];
      if (!read_body(names, f, 3)) return;
      admit_request fields;
      const char* field = nullptr;
      if (auto e = take_admit_fields(f[0], f[1], f[2], fields, &field); !e.empty())
        return bad_request("invalid_field", e, field);
      msg.model = std::move(fields.model);
      msg.product = std::move(fields.product);
      msg.cost = fields.cost;
    }
    if (op == lease_op::release && !req_.body().empty()) {
      // {"output_tokens": N}, optional: the answer's length, what a
      // per-token adaptive limit learns from (docs/PLANS.md).
      static constexpr std::string_view names[] = {"output_tokens"};
      json_member f[1];
      if (!read_body(names, f, 1)) return;
      if (auto e = take_output_tokens(f[0], msg); !e.empty())
        return bad_request("invalid_field", e, "output_tokens");
    }
    await_answer();
    edge_->to_actors.ask<lease_reply>(
        r.actor, std::move(msg), socket_.get_executor(),
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
    if (!reply) return unavailable(false);
    if (reply->code == 503) {  // a cluster's owner could not answer (docs/CLUSTER.md)
      admit_reply refused;
      refused.code = 503;
      refused.why = reply->why;
      refused.retry_after_s = 1;
      return send(admission_response(refused, req_.version(), req_.keep_alive()));
    }
    if (reply->code == 404)
      return send(error_response(404, error_type::not_found, unknown_code, unknown_message,
                                 req_.version(), req_.keep_alive()));
    if (reply->code == 400)  // adopting a lease: one name more than the account may use
      return send(error_response(400, error_type::invalid_request, "too_many_names",
                                 "Too many distinct models or products in use by this account at "
                                 "once (the node's max_names_per_account)",
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
                       self->on_admission(*route, reply, false);
                     });
  }

  void snapshot(const account_route& r) {
    await_answer();
    edge_->to_actors.ask<concurrency_snapshot>(r.actor, usage_query{r.account},
        socket_.get_executor(),
        [self = shared_from_this()](std::optional<concurrency_snapshot> s) {
          if (!self->answered()) return;
          auto& q = self->req_;
          if (!s) return self->unavailable(false);
          auto res = json_response(200, snapshot_json(*s), q.version(), q.keep_alive());
          res.set(bhttp::field::cache_control, "no-store");
          self->send(std::move(res));
        });
  }

  void stream(const account_route& r) {
    if (edge_->draining) return unavailable(true);  // open streams are being ended too
    if (head_) {
      // The fields of the stream's answer; a HEAD answer has no body, so
      // the connection stays a keep-alive one.
      string_response res{bhttp::status::ok, req_.version()};
      res.set(bhttp::field::server, "usher");
      res.set(bhttp::field::content_type, "text/event-stream");
      res.set(bhttp::field::cache_control, "no-cache");
      res.keep_alive(req_.keep_alive());
      return send(std::move(res));
    }
    edge_->count(200);
    if (edge_->access) log_access(200, {});
    start_sse_session(hand_over(), edge_, r, rid_);
  }

  // GET /v1/realtime: the admission socket (ws_session.cpp), or with a
  // gateway and a `model` in the query (as the OpenAI SDKs connect), a
  // realtime session passed through to the model's server
  // (realtime_proxy.cpp). Either way the connection is admitted first.
  void realtime(const account_route& r) {
    if (!beast::websocket::is_upgrade(req_)) {
      auto res = error_response(426, error_type::invalid_request, "upgrade_required",
                                "GET /v1/realtime is a WebSocket", req_.version(), false);
      res.set(bhttp::field::upgrade, "websocket");
      return send(std::move(res));
    }
    std::string_view target(req_.target().data(), req_.target().size());
    std::optional<std::string> model;
    const gateway::upstream* to = nullptr;
    if (edge_->cfg.gateway && (model = gateway::query_parameter(target, "model"))) {
      log_.route = "gateway_realtime";
      if (model->empty() || model->size() > max_name)
        return send(error_response(400, error_type::invalid_request, "invalid_field",
                                   "'model' must be a non-empty string of at most " +
                                       std::to_string(max_name) + " bytes",
                                   req_.version(), false, "model"));
      to = edge_->cfg.gateway->upstream_of(*model);
      if (!to)
        return send(error_response(404, error_type::invalid_request, "model_not_found",
                                   "The model '" + *model + "' does not exist on this gateway",
                                   req_.version(), false, "model"));
    }
    admit_request msg;
    msg.account = r.account;
    msg.key = r.key;
    msg.request_id = edge_->next_request++;
    msg.what = policies::kind::ws_open;
    msg.conn = edge_->next_conn++;
    msg.holder_is_connection = true;
    // No read while pending: the socket goes to the WebSocket next.
    pending_ = true;
    upgrading_ = true;
    gone_ = false;
    auto conn = msg.conn;
    edge_->to_actors.ask<admit_reply>(
        r.actor, std::move(msg), socket_.get_executor(),
        [self = shared_from_this(), r, conn, to, model = model.value_or("")](
            std::optional<admit_reply> reply) mutable {
          lease_handle held;
          if (reply && reply->code == 200) {
            held = lease_handle(r.actor, r.account, reply->lease, &self->edge_->to_actors);
            held.terms().key = r.key;
            held.terms().conn = conn;
            held.terms().holds_connection = true;
            held.set_ttl(std::chrono::milliseconds(reply->lease_ttl_ms));
          }
          if (!self->answered()) return;
          if (reply && reply->code == 200 && to)
            return self->open_realtime(r, conn, std::move(held), std::move(model), *to);
          if (reply && (reply->code == 200 || reply->code == 1008)) {
            self->upgraded(reply->code == 1008 ? "session_rate" : "");
            return start_ws_session(beast::tcp_stream(self->hand_over()), std::move(self->req_),
                                    self->edge_, r, conn, std::move(held), reply->code == 1008,
                                    self->rid_);
          }
          if (!reply) return self->unavailable(false);
          auto res = admission_response(*reply, self->req_.version(), false);
          self->send(std::move(res));
        });
  }

  // The socket becomes a WebSocket: 101 counted and logged (a 1008 close
  // follows at once when `code` says session_rate).
  void upgraded(std::string_view code) {
    edge_->count(101);
    if (edge_->access) log_access(101, {}, code);
  }

  // The connection is admitted: the session to the model server is opened
  // before the client's upgrade is answered, so that a model server that
  // is down gets the client a 502, not a socket that closes at once.
  void open_realtime(const account_route& r, std::uint64_t conn, lease_handle held,
                     std::string model, const gateway::upstream& to) {
    pending_ = true;
    upgrading_ = true;
    open_realtime_proxy(
        edge_, r, conn, std::move(held), std::move(model), to, req_, rid_, socket_.get_executor(),
        [self = shared_from_this()](std::shared_ptr<realtime_proxy> proxy,
                                    realtime_upstream_answer a) {
          if (!self->answered()) return;  // the proxy, dropped, frees its slot
          if (!a.opened) return self->send(std::move(a.refusal));
          self->upgraded("");
          start_realtime_proxy(proxy, beast::tcp_stream(self->hand_over()),
                               std::move(self->req_));
        });
  }

  // -- the gateway (docs/GATEWAY.md) ----------------------------------------

  static bool is_gateway_route(std::string_view path) {
    static constexpr std::string_view routes[] = {
        "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/audio/speech",
        "/v1/audio/transcriptions", "/v1/responses"};
    return std::find(std::begin(routes), std::end(routes), path) != std::end(routes);
  }

  // An OpenAI request: its model picks the upstream, the account's plan
  // admits it (queued with the connection open, as POST /v1/admit), then
  // upstream_call proxies it and frees the slot when the answer ends. Every
  // refusal comes before a slot is taken.
  void gateway_call(const account_route& r) {
    const auto& g = *edge_->cfg.gateway;
    std::string model;
    auto type = field_value(req_, bhttp::field::content_type);
    std::string tier;
    switch (gateway::read_model(type, req_.body(), model, g.service_tiers.empty() ? nullptr : &tier)) {
      case gateway::model_read::malformed_json:
        return bad_request("malformed_json",
                           "We could not parse the JSON body of your request: it must be a JSON "
                           "object");
      case gateway::model_read::bad_multipart:
        return bad_request("bad_multipart",
                           "The multipart/form-data body has no boundary or is cut short");
      case gateway::model_read::missing:
        return bad_request("missing_model", "You must provide a model parameter", "model");
      case gateway::model_read::not_string:
        return bad_request("invalid_field",
                           "'model' must be a non-empty string of at most " +
                               std::to_string(max_name) + " bytes",
                           "model");
      case gateway::model_read::ok: break;
    }
    const gateway::upstream* to = g.upstream_of(model);
    if (!to)
      return send(error_response(404, error_type::invalid_request, "model_not_found",
                                 "The model '" + model + "' does not exist on this gateway",
                                 req_.version(), req_.keep_alive(), "model"));
    admit_request msg;
    msg.account = r.account;
    msg.key = r.key;
    msg.request_id = edge_->next_request++;
    msg.model = model;
    msg.what = policies::kind::request;
    msg.tokens = gateway::estimate_tokens(type, req_.body());
    if (auto t = g.service_tiers.find(tier); !tier.empty() && t != g.service_tiers.end())
      msg.priority = t->second;
    auto request_id = msg.request_id;
    await_answer(gone_action{r.actor, cancel_request{r.account, request_id}});
    edge_->to_actors.ask<admit_reply>(
        r.actor, std::move(msg), socket_.get_executor(),
        [self = shared_from_this(), route = &r, to, model = std::move(model)](
            std::optional<admit_reply> reply) mutable {
          self->on_gateway_admission(*route, to, std::move(model), reply);
        });
  }

  void on_gateway_admission(const account_route& r, const gateway::upstream* to, std::string model,
                            const std::optional<admit_reply>& reply) {
    lease_handle lease;
    if (reply && reply->code == 200)
      lease = lease_handle(r.actor, r.account, reply->lease, &edge_->to_actors);
    if (!answered()) return;  // gone: the handle releases the lease
    if (!reply) return unavailable(false);
    if (edge_->access) {
      if (reply->code == 200 || reply->code == 408) log_.wait_us = reply->waited_us;
      if (!reply->lease.empty()) log_.lease = reply->lease;
    }
    // The account's concurrency as x-ratelimit-* fields (OpenAI's names for
    // its own limits, with "concurrency" for what a plan sells): the limit
    // and what is left once this request is decided. No limit, no fields.
    std::vector<std::pair<std::string, std::string>> extra{{"X-Request-Id", rid_}};
    if (reply->limit >= 0) {
      extra.emplace_back("x-ratelimit-limit-concurrency", std::to_string(reply->limit));
      extra.emplace_back("x-ratelimit-remaining-concurrency",
                         std::to_string(std::max<std::int64_t>(0, reply->limit - reply->in_use)));
    }
    // Requests and tokens per minute under OpenAI's own names; the reset is
    // the time until the bucket is full again, in milliseconds ("1500ms").
    for (auto [word, f] : {std::pair{"requests", &reply->requests}, std::pair{"tokens", &reply->tokens}}) {
      if (f->limit < 0) continue;
      extra.emplace_back(std::string("x-ratelimit-limit-") + word, std::to_string(f->limit));
      extra.emplace_back(std::string("x-ratelimit-remaining-") + word, std::to_string(f->remaining));
      extra.emplace_back(std::string("x-ratelimit-reset-") + word,
                         std::to_string((f->reset_us + 999) / 1000) + "ms");
    }
    if (reply->code != 200) {
      if (reply->code == 1008) edge_->count_refusal_as_429(r.account);
      auto res = admission_response(*reply, req_.version(), req_.keep_alive());
      for (auto& [name, value] : extra)
        if (name != "X-Request-Id") res.set(name, value);
      return send(std::move(res));
    }
    // The slot is held: the call has the connection until it ends.
    auto ttl = std::chrono::milliseconds(reply->lease_ttl_ms);
    ++edge_->calls_open;
    call_ = std::make_shared<gateway::upstream_call>(
        edge_->calls, socket_, *to, std::move(req_), std::move(lease), std::move(model), ttl,
        reply->count_tokens, std::move(extra),
        [self = shared_from_this()](const gateway::call_end& end) { self->proxied(end); });
    req_ = {};
    req_.method(bhttp::verb::post);  // for the access log
    await_answer();
    call_->start();
  }

  // A proxied call ended: its answer is written (or the client is gone).
  void proxied(const gateway::call_end& end) {
    --edge_->calls_open;
    ++edge_->call_ends[gateway::call_end_index(end.code)];
    call_.reset();
    if (end.status) edge_->count(end.status);
    if (edge_->access) log_access(end.status, {}, end.code);
    pending_ = false;
    on_gone_.reset();
    if (gone_ || !end.keep_alive || edge_->stopping) return close();
    // The next request, parsed in a handler of its own (as after a write).
    asio::post(ex_, [self = shared_from_this()] { self->parse(); });
  }

  // GET /v1/models, in OpenAI's list shape: with a default upstream, the
  // models it lists (asked each time: what it serves may change), then
  // every model with an upstream of its own that it did not list.
  void models() {
    const auto& g = *edge_->cfg.gateway;
    if (!g.fallback) return send_models(nlohmann::ordered_json::array());
    std::make_shared<gateway::upstream_fetch>(
        socket_.get_executor(), *g.fallback, "/v1/models", g.upstream_key, g.connect_timeout,
        [self = shared_from_this()](gateway::upstream_fetch::result r) {
          self->on_upstream_models(std::move(r));
        })
        ->start();
  }

  void on_upstream_models(gateway::upstream_fetch::result r) {
    const auto& g = *edge_->cfg.gateway;
    auto refuse = [&](const std::string& why) {
      send(error_response(502, error_type::server, "upstream_unavailable", why, req_.version(),
                          req_.keep_alive()));
    };
    if (r.status == 0) return refuse(r.error);
    if (r.status != 200)
      return refuse("The model server at " + g.fallback->text + " answered GET /v1/models with " +
                    std::to_string(r.status));
    auto listed = nlohmann::ordered_json::parse(r.body, nullptr, false);
    if (listed.is_discarded() || !listed.is_object() || !listed.contains("data") ||
        !listed["data"].is_array())
      return refuse("The model server at " + g.fallback->text +
                    " answered GET /v1/models with something that is not a model list");
    send_models(std::move(listed["data"]));
  }

  void send_models(nlohmann::ordered_json data) {
    std::set<std::string> seen;
    for (auto& m : data)
      if (m.is_object() && m.contains("id") && m["id"].is_string()) seen.insert(m["id"].get<std::string>());
    for (auto& [name, to] : edge_->cfg.gateway->by_model)
      if (!seen.count(name))
        data.push_back({{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "usher"}});
    nlohmann::ordered_json list;
    list["object"] = "list";
    list["data"] = std::move(data);
    auto res = json_response(200, list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                             req_.version(), req_.keep_alive());
    send(std::move(res));
  }

  // The metrics key, when one is set, guards the operator's routes.
  bool metrics_key_ok() {
    auto& key = edge_->cfg.metrics_key_hash;
    if (key.empty()) return true;
    auto token = bearer_token(field_value(req_, bhttp::field::authorization));
    return !token.empty() && sha256_hex(token) == key;
  }

  void metrics() {
    if (!metrics_key_ok()) return unauthorized("GET /metrics needs the metrics key");
    struct gather {
      std::vector<account_metrics> all;
      std::size_t left = 0;
      std::map<std::string, std::int64_t> as_429;
    };
    auto g = std::make_shared<gather>();
    g->as_429 = edge_->refusals_as_429_now();  // before the actors count theirs
    auto table = edge_->routes();
    g->left = table->actors.size();
    await_answer();
    auto finish = [self = shared_from_this(), g] {
      if (!self->answered()) return;
      string_response res{bhttp::status::ok, self->req_.version()};
      res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
      res.keep_alive(self->req_.keep_alive());
      res.body() = metrics_text(*self->edge_, std::move(g->all), g->as_429);
      res.prepare_payload();
      self->send(std::move(res));
    };
    if (g->left == 0) return finish();
    for (auto& a : table->actors)
      edge_->to_actors.ask<live_metrics>(a, metrics_atom::value, socket_.get_executor(),
                        [g, finish](std::optional<live_metrics> m) {
                          if (m)
                            for (auto& x : m->accounts) g->all.push_back(std::move(x));
                          if (--g->left == 0) finish();
                        });
  }

  // GET /v1/cluster: the cluster as this member sees it (docs/CLUSTER.md),
  // behind the metrics key as /metrics is. 404 for a node alone.
  void cluster_status() {
    if (!metrics_key_ok()) return unauthorized("GET /v1/cluster needs the metrics key");
    if (!edge_->cfg.cluster)
      return send(error_response(404, error_type::not_found, "not_a_cluster",
                                 "This node runs alone: its config has no [cluster] section",
                                 req_.version(), req_.keep_alive()));
    await_answer();
    edge_->to_actors.ask<cluster::cluster_status>(
        edge_->cfg.cluster, cluster::cluster_status_atom::value, socket_.get_executor(),
        [self = shared_from_this()](std::optional<cluster::cluster_status> s) {
          if (!self->answered()) return;
          if (!s) return self->unavailable(false);
          auto res = json_response(200, cluster_status_json(*s), self->req_.version(),
                                   self->req_.keep_alive());
          res.set(bhttp::field::cache_control, "no-store");
          self->send(std::move(res));
        });
  }

  // -- the dashboards' data (account_usage.hpp) -----------------------------

  // GET /metrics/accounts: every account, for the operator view. The
  // metrics key guards it as it guards GET /metrics (open without one).
  void accounts_usage() {
    if (!metrics_key_ok()) return unauthorized("GET /metrics/accounts needs the metrics key");
    await_answer();
    gather_metrics(*edge_, edge_->routes()->actors, socket_.get_executor(),
                   [self = shared_from_this()](std::vector<account_metrics> all) {
                     if (!self->answered()) return;
                     self->send_usage(accounts_usage_json(std::move(all), unix_ms_now()));
                   });
  }

  // GET /account/metrics: the caller's account, for the dashboard. In a
  // cluster the owner answers (forwarded like /account/concurrency).
  void account_usage(const account_route& r) {
    await_answer();
    edge_->to_actors.ask<live_metrics>(
        r.actor, metrics_query{r.account}, socket_.get_executor(),
        [self = shared_from_this(), account = r.account](std::optional<live_metrics> m) {
          if (!self->answered()) return;
          if (!m) return self->unavailable(false);  // the node stops
          if (m->unavailable != policies::reason::none) {  // a cluster's owner could not answer
            admit_reply refused;
            refused.code = 503;
            refused.why = m->unavailable;
            refused.retry_after_s = 1;
            return self->send(admission_response(refused, self->req_.version(), self->req_.keep_alive()));
          }
          for (auto& x : m->accounts)
            if (x.account == account) return self->send_usage(account_usage_json(x, unix_ms_now()));
          // An answer without it: a reload removed it.
          self->unauthorized("Missing or unknown API key (Authorization: Bearer KEY)");
        });
  }

  void send_usage(const std::string& body) {
    auto res = json_response(200, body, req_.version(), req_.keep_alive());
    res.set(bhttp::field::cache_control, "no-store");
    send(std::move(res));
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
  std::string rid_;   ///< the X-Request-Id of the request being answered
  bool head_ = false;  ///< it is a HEAD: answered without the body
  bool continue_sent_ = false;  ///< the request's Expect: 100-continue is answered
  std::size_t body_limit_ = 0;  ///< of the request being parsed (its route's)
  edge::impl::key_cache key_cache_;
  struct logged {
    bool parsed = false;     ///< false: bytes that were no request (400, 413, 431)
    const char* route = "";  ///< "": not routed
    std::string account;     ///< "": not authenticated
    std::string lease, ticket;
    std::int64_t wait_us = -1;
    std::chrono::steady_clock::time_point start;
  };
  logged log_;          ///< the access log's view of the request being answered
  std::string client_;  ///< the peer's address, with an access log
  std::optional<gone_action> on_gone_;
  std::shared_ptr<gateway::upstream_call> call_;  ///< a proxied call under way (the gateway's)
  conn_phase phase_ = conn_phase::reading;  ///< as last told to the edge
  bool pending_ = false;      ///< an answer from an actor is awaited
  bool gone_ = false;         ///< the client left while it was
  bool reading_ = false;      ///< a read is open
  bool writing_ = false;      ///< a write is open
  bool closed_ = false;
  bool handed_over_ = false;  ///< the socket belongs to an SSE or WebSocket session
  bool upgrading_ = false;    ///< a WebSocket upgrade awaits its admission: no reads
};

}  // namespace

void start_http_session(tcp::socket socket, std::shared_ptr<edge::impl> edge) {
  std::make_shared<http_session>(std::move(socket), std::move(edge))->start();
}

}  // namespace usher::actors::http
