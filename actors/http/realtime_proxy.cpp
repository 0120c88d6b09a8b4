// GET /v1/realtime?model=M with a gateway (docs/GATEWAY.md, "Realtime"): an
// OpenAI Realtime session passed through to M's model server. The session
// holds the account's connection slot (the ws_open lease: 5 x concurrency
// for the exclusive family, the new-session rate for session-rate), and each
// response generated over it holds a request slot (ws_request), shared with
// every other request of the account:
//
//   client response.create   -> admitted, then passed on (refused: an error
//                               event to the client, nothing passed on)
//   server response.created  -> the response has its slot (one the server
//                               began on its own, voice activity detection,
//                               is admitted now; refused: response.cancel
//                               upstream, an error event to the client)
//   server response.done     -> the slot is free (any status: completed,
//                               cancelled, failed, incomplete)
//   server error naming the response.create's event_id -> free
//   model server silent for idle_timeout while a slot is held -> all freed,
//                               an error event `upstream_stalled`
//   either side closes or breaks -> everything freed, the other side closed
//
// Every other frame passes unchanged, in order, both ways; a frame is read
// from one side only once the last one was written to the other, so a slow
// reader slows its peer (TCP pushes back) instead of filling memory.
//
// With an access log, each response asked for or begun over the session has
// a line of its own when it ends or is refused (route
// gateway_realtime_response), beside the upgrade's line: the same
// request_id, its lease, and how it ended.
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>

#include "actors/gateway/output_tokens.hpp"
#include "actors/gateway/realtime_events.hpp"
#include "actors/http/bridge.hpp"
#include "actors/http/lease_keeper.hpp"
#include "actors/http/responses.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

namespace websocket = beast::websocket;
using clock = std::chrono::steady_clock;

namespace {

/// Slots one session may hold or ask for at once: far above any plan's
/// concurrency, a bound on what a client can make the node remember.
constexpr std::size_t max_slots_per_session = 1024;
/// The node's own frames (error events) waiting for a client that reads
/// nothing: past this the session is cut.
constexpr std::size_t max_own_frames = 1024;
/// The model server's side broke without a close of its own: 1011
/// (internal error). Not 1014 ("bad gateway", registered after RFC 6455):
/// clients that check codes against the RFC, Beast's among them, fail the
/// connection on it instead of reading the reason.
constexpr auto upstream_broke = websocket::close_code::internal_error;

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         beast::iequals(beast::string_view(s.data(), prefix.size()),
                        beast::string_view(prefix.data(), prefix.size()));
}

}  // namespace

class realtime_proxy : public edge::impl::stream_conn,
                       public std::enable_shared_from_this<realtime_proxy> {
 public:
  realtime_proxy(std::shared_ptr<edge::impl> edge, account_route route, std::uint64_t conn,
                 lease_handle connection, std::string model, const gateway::upstream& to,
                 std::string request_id, const asio::any_io_executor& ex)
      : edge_(std::move(edge)),
        route_(std::move(route)),
        conn_(conn),
        connection_(std::move(connection)),
        model_(std::move(model)),
        to_(to),
        request_id_(std::move(request_id)),
        ex_(ex),
        resolver_(ex),
        up_(beast::tcp_stream(ex)),
        stall_timer_(ex),
        keeper_(ex, edge_->to_actors) {}

  ~realtime_proxy() override {
    if (!started_) return;
    edge_->remove_stream(this);
    --edge_->ws_open;
  }

  // -- step 1: the session to the model server ------------------------------

  using done_fn = std::function<void(std::shared_ptr<realtime_proxy>, realtime_upstream_answer)>;

  void connect(const string_request& upgrade, done_fn done) {
    done_ = std::move(done);
    const auto& g = *edge_->cfg.gateway;
    target_ = to_.prefix;
    target_.append(upgrade.target().data(), upgrade.target().size());
    // The client's fields go on as for the HTTP routes, but not its
    // WebSocket fields (Beast makes the upstream's own) nor a subprotocol
    // that carries a key (browsers send `openai-insecure-api-key.KEY`).
    for (auto& f : upgrade) {
      std::string_view name(f.name_string().data(), f.name_string().size());
      std::string value(f.value());
      if (gateway::hop_or_secret(name) || starts_with_ci(name, "sec-websocket-")) continue;
      fields_.emplace_back(std::string(name), std::move(value));
    }
    auto offered = field_value(upgrade, bhttp::field::sec_websocket_protocol);
    each_subprotocol(offered, [this](std::string_view p) {
      if (is_key_subprotocol(p)) return false;
      if (!protocols_.empty()) protocols_ += ", ";
      protocols_.append(p);
      return false;
    });
    // The client gets the model server's choice, or when it made none the
    // first the client offered (a WHATWG WebSocket insists on one).
    chosen_protocol_ = std::string(answered_subprotocol(offered));
    beast::get_lowest_layer(up_).expires_after(g.connect_timeout);
    beast::error_code ec;
    auto address = asio::ip::make_address(to_.host, ec);
    if (!ec) {  // a numeric address needs no resolver
      beast::get_lowest_layer(up_).async_connect(
          tcp::endpoint(address, to_.port),
          [self = shared_from_this()](beast::error_code ec) { self->on_connected(ec); });
      return;
    }
    resolver_.async_resolve(
        to_.host, std::to_string(to_.port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type found) {
          if (ec) return self->on_connected(ec);
          beast::get_lowest_layer(self->up_).async_connect(
              found, [self](beast::error_code ec, const tcp::endpoint&) { self->on_connected(ec); });
        });
  }

  // -- step 2: the client's upgrade, then the relay -------------------------

  void start(beast::tcp_stream client, string_request upgrade) {
    started_ = true;
    ++edge_->ws_open;
    edge_->add_stream(shared_from_this());
    if (edge_->access) {
      beast::error_code ec;
      auto peer = client.socket().remote_endpoint(ec);
      if (!ec) client_address_ = peer.address().to_string();
    }
    client_.emplace(std::move(client));
    beast::get_lowest_layer(*client_).expires_never();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.handshake_timeout = edge_->cfg.request_timeout;
    client_->set_option(timeouts);
    client_->set_option(websocket::stream_base::decorator(
        [id = request_id_, chosen = chosen_protocol_](websocket::response_type& res) {
          decorate_ws_answer(res, id, chosen);
        }));
    auto max_frame = edge_->cfg.gateway->max_body;
    client_->read_message_max(max_frame);
    up_.read_message_max(max_frame);
    client_->async_accept(upgrade, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->end();
      self->accepted_ = true;
      if (self->going_away_) return self->close_both(websocket::close_code::going_away);
      self->keep_leases();
      self->watch_since_ = clock::now();
      self->read_client();
      self->read_upstream();
    });
  }

  // The node drains: both sides closed with 1001, the slots freed now.
  void go_away() override {
    asio::post(ex_, [self = shared_from_this()] {
      if (self->ended_ || self->going_away_) return;
      self->going_away_ = true;
      if (self->accepted_) self->close_both(websocket::close_code::going_away);
    });
  }

 private:
  // -- opening upstream -----------------------------------------------------

  void on_connected(beast::error_code ec) {
    if (ec == beast::error::timeout)
      return refuse(504, "upstream_timeout",
                    "The model server at " + to_.text + " did not accept a connection in time");
    if (ec)
      return refuse(502, "upstream_unavailable",
                    "The model server at " + to_.text + " cannot be reached: " + ec.message());
    beast::get_lowest_layer(up_).socket().set_option(tcp::no_delay(true), ec);
    // The opening handshake within connect_timeout too; then no timeout:
    // a realtime session may stay quiet for long (the stall watch covers
    // responses under way).
    beast::get_lowest_layer(up_).expires_never();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
    timeouts.handshake_timeout = edge_->cfg.gateway->connect_timeout;
    up_.set_option(timeouts);
    const auto& key = edge_->cfg.gateway->upstream_key;
    if (!key.empty()) fields_.emplace_back("Authorization", "Bearer " + key);
    fields_.emplace_back("X-Request-Id", request_id_);
    if (!protocols_.empty()) fields_.emplace_back("Sec-WebSocket-Protocol", protocols_);
    up_.set_option(websocket::stream_base::decorator(
        [fields = std::move(fields_)](websocket::request_type& req) {
          for (auto& [name, value] : fields) req.set(name, value);
        }));
    up_.async_handshake(up_answer_, to_.host_field(), target_,
                        [self = shared_from_this()](beast::error_code ec) { self->on_opened(ec); });
  }

  void on_opened(beast::error_code ec) {
    if (ec == websocket::error::upgrade_declined && up_answer_.result_int() >= 400 &&
        up_answer_.result_int() < 600) {
      // The model server's own refusal (401, 404 model, 429, 503, ...)
      // reaches the client as it was, as for the HTTP routes.
      string_response res = std::move(up_answer_);
      for (auto it = res.begin(); it != res.end();) {
        std::string_view name(it->name_string().data(), it->name_string().size());
        it = gateway::hop_or_secret(name) || starts_with_ci(name, "sec-websocket-")
                 ? res.erase(it)
                 : std::next(it);
      }
      res.set(bhttp::field::server, "usher");  // replaces the model server's
      res.set("X-Request-Id", request_id_);
      res.keep_alive(false);
      res.prepare_payload();
      return answer({false, std::move(res)});
    }
    if (ec == beast::error::timeout)
      return refuse(504, "upstream_timeout",
                    "The model server at " + to_.text + " did not open the session in time");
    if (ec)
      return refuse(502, "upstream_unavailable",
                    "The model server at " + to_.text + " did not open a WebSocket: " +
                        ec.message());
    if (auto chosen = up_answer_[bhttp::field::sec_websocket_protocol]; !chosen.empty())
      chosen_protocol_ = std::string(chosen);
    up_answer_ = {};
    answer({true, {}});
  }

  void refuse(unsigned status, const char* code, const std::string& message) {
    auto res = error_response(status, error_type::server, code, message, 11, false);
    res.set("X-Request-Id", request_id_);
    answer({false, std::move(res)});
  }

  void answer(realtime_upstream_answer a) {
    if (!a.opened) {
      // Not opened: the connection slot goes now, not when the last
      // reference to this session does.
      connection_.release();
      beast::error_code ignored;
      beast::get_lowest_layer(up_).socket().close(ignored);
    }
    auto done = std::move(done_);
    done(shared_from_this(), std::move(a));
  }

  // A frame whose handling throws (a bug, or input no check foresaw) ends
  // the session, as a route that throws ends its connection; the node goes on.
  template <class F>
  void guarded(F&& handle) {
    try {
      handle();
    } catch (const std::exception& e) {
      edge_->report_internal_error("realtime frame", e);
      end();
    }
  }

  // -- client -> model server -----------------------------------------------

  void read_client() {
    client_->async_read(client_in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->client_ended(ec);
      self->guarded([&] { self->on_client_frame(); });
    });
  }

  void on_client_frame() {
    bool text = client_->got_text();
    auto frame = beast::buffers_to_string(client_in_.data());
    client_in_.consume(client_in_.size());
    gateway::realtime_event e;
    bool event = gateway::read_realtime_event(frame, e);
    if (text && !event) {
      // What usher cannot read as an event it cannot count: a lenient
      // model server might still run it as a response.create.
      to_client_error(error_type::invalid_request, "invalid_event",
                      "A text frame must be one JSON object: a Realtime API event", "");
      return read_client();
    }
    // A binary frame holding an event counts as one (a server may take
    // events either way); other binary frames pass unread.
    if (event && e.type == "response.create")
      return ask_slot(std::move(frame), std::move(e.event_id), text);
    to_upstream(std::move(frame), text, true);
  }

  // A response.create: passed on only with a slot of the account. The
  // client's next frame waits for the answer (frames stay in order).
  void ask_slot(std::string frame, std::string event_id, bool text) {
    if (slots_.size() >= max_slots_per_session) {
      to_client_error(error_type::rate_limit, "too_many_responses",
                      "Too many responses asked for over one session", event_id);
      log_response(429, "too_many_responses", "", clock::now());
      return read_client();
    }
    if (event_id.empty()) {  // so that the model server's error can name it
      event_id = "usher_" + std::to_string(++own_events_);
      frame = gateway::with_event_id(frame, event_id);
    }
    edge_->to_actors.ask<admit_reply>(
        route_.actor, slot_request(), ex_,
        [self = shared_from_this(), frame = std::move(frame), event_id = std::move(event_id),
         text, asked = clock::now()](std::optional<admit_reply> r) mutable {
          auto held = self->slot_lease(r);
          if (self->ended_ || self->closing_) return;  // the handle releases it
          if (!r || r->code != 200) {
            self->refused(r, event_id, "", asked);
            return self->read_client();
          }
          if (self->slots_.size() == 0) self->watch_since_ = clock::now();
          auto lease = held.id();
          self->slots_.asked(lease, event_id);
          self->leases_.emplace(std::move(lease), held_slot{std::move(held), asked, r->count_tokens});
          self->watch_stall();
          self->to_upstream(std::move(frame), text, true);
        });
  }

  // The lease of a granted slot_request(), renewed (in a cluster) saying
  // what it holds.
  lease_handle slot_lease(const std::optional<admit_reply>& r) {
    lease_handle held;
    if (!r || r->code != 200) return held;
    held = lease_handle(route_.actor, route_.account, r->lease, &edge_->to_actors);
    held.terms().model = model_;
    held.terms().key = route_.key;
    held.terms().conn = conn_;
    held.set_ttl(std::chrono::milliseconds(r->lease_ttl_ms));
    return held;
  }

  admit_request slot_request() {
    admit_request msg;
    msg.account = route_.account;
    msg.key = route_.key;
    msg.request_id = edge_->next_request++;
    msg.model = model_;
    msg.what = policies::kind::ws_request;
    msg.conn = conn_;
    msg.holder_is_connection = true;
    return msg;
  }

  // A slot refused (or no answer: the node stops): an error event in the
  // Realtime API's shape, naming the client event it answers.
  void refused(const std::optional<admit_reply>& r, const std::string& event_id,
               const std::string& response_id, clock::time_point asked) {
    if (!r) {
      to_client_error(error_type::server, "unavailable", "The node cannot admit now", event_id);
      log_response(503, "unavailable", "", asked);
      return;
    }
    unsigned status = 0;
    auto object = refusal_object(*r, status);
    log_response(status, error_code_of(object), "", asked);
    if (r->code == 1008) edge_->count_refusal_as_429(route_.account);
    if (!response_id.empty()) {
      // The model server began this response on its own: it is cancelled.
      std::string cancel = "{\"type\":\"response.cancel\",\"response_id\":";
      append_json_string(response_id, cancel);
      cancel += '}';
      to_upstream(std::move(cancel), true, false);
    }
    to_client(event_frame(object, event_id), true, false);
  }

  void to_client_error(const char* type, const std::string& code, const std::string& message,
                       const std::string& event_id) {
    to_client(event_frame(error_object(type, code, message), event_id), true, false);
  }

  // {"type":"error","event_id":..,"error":{..,"event_id":..}}: the
  // Realtime API's error event; error.event_id names the client's event.
  std::string event_frame(const std::string& error_object, const std::string& event_id) {
    std::string frame = "{\"type\":\"error\",\"event_id\":\"usher_" +
                        std::to_string(++own_events_) + "\",\"error\":";
    if (event_id.empty()) {
      frame += error_object;
    } else {
      frame += gateway::with_event_id(error_object, event_id);
    }
    frame += '}';
    return frame;
  }

  // -- model server -> client -----------------------------------------------

  void read_upstream() {
    up_.async_read(up_in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->upstream_ended(ec);
      self->guarded([&] { self->on_upstream_frame(); });
    });
  }

  void on_upstream_frame() {
    watch_since_ = clock::now();
    bool text = up_.got_text();
    auto frame = beast::buffers_to_string(up_in_.data());
    up_in_.consume(up_in_.size());
    gateway::realtime_event e;
    if (text && gateway::read_realtime_event(frame, e)) {
      if (e.type == "response.created" && !e.response_id.empty()) {
        if (!slots_.created(e.response_id)) admit_server_response(e.response_id);
      } else if (e.type == "response.done") {
        free_slot(slots_.done(e.response_id), "-", frame);
      } else if (e.type == "error") {
        // The model server refused a response.create the account admitted.
        free_slot(slots_.refused(e.error_event_id), "upstream_error");
      }
    }
    to_client(std::move(frame), text, true);
  }

  // A response the model server began without a response.create (voice
  // activity detection): admitted now, while it runs. A ws_request never
  // queues, so the answer comes at once.
  void admit_server_response(const std::string& response_id) {
    watch_stall();
    edge_->to_actors.ask<admit_reply>(
        route_.actor, slot_request(), ex_,
        [self = shared_from_this(), response_id, asked = clock::now()](std::optional<admit_reply> r) {
          auto held = self->slot_lease(r);
          if (self->ended_ || self->closing_) return;
          if (r && r->code == 200) {
            // Ended meanwhile (its response.done came first): the handle frees it.
            auto lease = held.id();
            if (self->slots_.adopt(response_id, lease))
              self->leases_.emplace(std::move(lease), held_slot{std::move(held), asked, r->count_tokens});
            else
              self->log_response(200, "-", lease, asked);
            return;
          }
          if (!self->slots_.unadmitted(response_id)) return;  // over already
          self->slots_.forget(response_id);
          self->refused(r, "", response_id, asked);
        });
  }

  // A response's slot is free: `code` says how it ended ("-": its
  // response.done, `done_frame`, whose usage.output_tokens the release
  // says when the account learns from them: admit_reply::count_tokens).
  void free_slot(const std::string& lease, std::string_view code, std::string_view done_frame = {}) {
    auto i = lease.empty() ? leases_.end() : leases_.find(lease);
    if (i == leases_.end()) return;
    log_response(200, code, lease, i->second.since);
    gateway::output_token_count tokens;
    if (i->second.count_tokens) tokens.feed(done_frame.data(), done_frame.size());
    i->second.handle.release(tokens.tokens());
    leases_.erase(i);
  }

  // The access log's line of one response (route gateway_realtime_response):
  // `status` 200 once admitted (`code` then says how it ended), else the
  // refusal's; its time from the ask to now.
  void log_response(unsigned status, std::string_view code, std::string_view lease,
                    clock::time_point since) {
    if (!edge_->access) return;
    access_entry e;
    e.request_id = request_id_;
    e.client = client_address_;
    e.account = route_.account;
    e.route = "gateway_realtime_response";
    e.status = status;
    e.code = code;
    e.lease = lease;
    e.duration_us =
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - since).count();
    edge_->access->add(e);
  }

  // While a slot is held, the model server silent for idle_timeout (a
  // stalled response, a server that lost the request) frees every slot of
  // the session: the client is told, the session stays open.
  void watch_stall() {
    if (stall_armed_ || ended_) return;
    stall_armed_ = true;
    auto idle = edge_->cfg.gateway->idle_timeout;
    stall_timer_.expires_at(watch_since_ + idle);
    stall_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      self->stall_armed_ = false;
      if (ec || self->ended_ || self->slots_.size() == 0) return;
      auto idle = self->edge_->cfg.gateway->idle_timeout;
      if (clock::now() - self->watch_since_ < idle) return self->watch_stall();
      for (auto& lease : self->slots_.take_all()) self->free_slot(lease, "upstream_stalled");
      ++self->edge_->call_ends[gateway::call_end_index("upstream_stalled")];
      self->to_client_error(error_type::server, "upstream_stalled",
                            "The model server sent nothing for " +
                                std::to_string(idle.count()) +
                                " ms: the responses under way are no longer counted",
                            "");
    });
  }

  // -- writing --------------------------------------------------------------

  struct frame_out {
    std::string bytes;
    bool text = true;
    bool resumes = false;  ///< a relayed frame: its side is read again once written
  };

  void to_upstream(std::string bytes, bool text, bool resumes) {
    if (closing_ || ended_) return;
    up_out_.push_back({std::move(bytes), text, resumes});
    if (up_out_.size() == 1) write_upstream();
  }

  void write_upstream() {
    auto& f = up_out_.front();
    up_.text(f.text);
    up_.async_write(asio::buffer(f.bytes), [self = shared_from_this()](beast::error_code ec,
                                                                        std::size_t) {
      if (ec) return self->upstream_ended(ec);
      bool resumes = self->up_out_.front().resumes;
      self->up_out_.pop_front();
      if (self->closing_) return;
      if (!self->up_out_.empty()) self->write_upstream();
      if (resumes) self->read_client();
    });
  }

  void to_client(std::string bytes, bool text, bool resumes) {
    if (closing_ || ended_) return;
    if (!resumes && ++own_waiting_ > max_own_frames) return end();
    client_out_.push_back({std::move(bytes), text, resumes});
    if (client_out_.size() == 1) write_client();
  }

  void write_client() {
    auto& f = client_out_.front();
    client_->text(f.text);
    client_->async_write(asio::buffer(f.bytes), [self = shared_from_this()](beast::error_code ec,
                                                                            std::size_t) {
      if (ec) return self->client_ended(ec);
      bool resumes = self->client_out_.front().resumes;
      if (!resumes) --self->own_waiting_;
      self->client_out_.pop_front();
      if (self->closing_) return;
      if (!self->client_out_.empty()) self->write_client();
      if (resumes) self->read_upstream();
    });
  }

  // -- the end --------------------------------------------------------------

  // The client closed (its close frame is answered by Beast) or broke: the
  // model server's side is closed the same way.
  void client_ended(beast::error_code ec) {
    if (ended_ || closing_) return;  // the close's handler ends the session
    if (ec != websocket::error::closed) return end();
    free_all();
    closing_ = true;
    auto why = client_->reason();
    up_.async_close(why, [self = shared_from_this()](beast::error_code) { self->end(); });
  }

  // The model server closed (the client gets its code and reason) or broke
  // (1011 to the client).
  void upstream_ended(beast::error_code ec) {
    if (ended_ || closing_) return;  // the close's handler ends the session
    free_all();
    closing_ = true;
    websocket::close_reason why(upstream_broke, "The model server broke the session");
    if (ec == websocket::error::closed) {
      why = up_.reason();
    } else {
      ++edge_->call_ends[gateway::call_end_index("upstream_broke")];
      beast::error_code ignored;
      beast::get_lowest_layer(up_).socket().close(ignored);
    }
    client_->async_close(why, [self = shared_from_this()](beast::error_code) { self->end(); });
  }

  // In a cluster the session's leases have a TTL: renewed while it is open;
  // one the owner no longer holds closes both sides with 1013 (try again
  // later), the client reconnecting to a member that can admit it
  // (lease_keeper.hpp).
  void keep_leases() {
    std::weak_ptr<realtime_proxy> w = shared_from_this();
    keeper_.start(
        connection_.ttl(),
        [w](const std::function<void(const lease_handle&)>& visit) {
          auto self = w.lock();
          if (!self) return;
          visit(self->connection_);
          for (auto& [id, held] : self->leases_) visit(held.handle);
        },
        [w] {
          auto self = w.lock();
          if (!self || self->closing_ || self->ended_) return;
          ++self->edge_->ws_leases_lost;
          self->close_both(websocket::close_code::try_again_later, lease_lost_reason);
        });
  }

  void close_both(websocket::close_code code, const char* reason = "going away") {
    if (closing_ || ended_) return;
    free_all();
    closing_ = true;
    websocket::close_reason why(code, reason);
    up_.async_close(why, [self = shared_from_this()](beast::error_code) {});
    client_->async_close(why, [self = shared_from_this()](beast::error_code) { self->end(); });
  }

  // The session ends (`session_ended` for the responses under way).
  void free_all() {
    keeper_.stop();
    slots_.take_all();
    for (auto& [lease, held] : leases_) log_response(200, "session_ended", lease, held.since);
    leases_.clear();  // every handle releases its slot
    connection_.release();
  }

  void end() {
    if (ended_) return;
    ended_ = true;
    free_all();
    stall_timer_.cancel();
    beast::error_code ignored;
    if (client_) beast::get_lowest_layer(*client_).socket().close(ignored);
    beast::get_lowest_layer(up_).socket().close(ignored);
  }

  std::shared_ptr<edge::impl> edge_;
  account_route route_;
  std::uint64_t conn_;
  lease_handle connection_;
  std::string model_;
  const gateway::upstream& to_;
  std::string request_id_;
  asio::any_io_executor ex_;
  tcp::resolver resolver_;
  std::optional<websocket::stream<beast::tcp_stream>> client_;
  websocket::stream<beast::tcp_stream> up_;
  websocket::response_type up_answer_;
  done_fn done_;
  std::string target_;
  std::vector<std::pair<std::string, std::string>> fields_;  ///< of the upstream handshake
  std::string protocols_;        ///< offered upstream
  std::string chosen_protocol_;  ///< the model server's choice, given to the client
  beast::flat_buffer client_in_, up_in_;
  std::deque<frame_out> client_out_, up_out_;
  std::size_t own_waiting_ = 0;  ///< the node's own frames queued to the client
  std::uint64_t own_events_ = 0;
  gateway::response_slots slots_;
  struct held_slot {
    lease_handle handle;
    clock::time_point since;  ///< asked for (the access log's duration)
    bool count_tokens = false;  ///< admit_reply::count_tokens
  };
  std::map<std::string, held_slot> leases_;  ///< by lease id
  std::string client_address_;               ///< with an access log
  asio::steady_timer stall_timer_;
  lease_keeper keeper_;
  clock::time_point watch_since_{};  ///< the model server's last frame, or the first slot
  bool stall_armed_ = false;
  bool started_ = false;
  bool accepted_ = false;
  bool going_away_ = false;
  bool closing_ = false;
  bool ended_ = false;
};

void open_realtime_proxy(
    std::shared_ptr<edge::impl> edge, account_route route, std::uint64_t conn,
    lease_handle connection, std::string model, const gateway::upstream& to,
    const string_request& upgrade, std::string request_id, const asio::any_io_executor& ex,
    std::function<void(std::shared_ptr<realtime_proxy>, realtime_upstream_answer)> done) {
  std::make_shared<realtime_proxy>(std::move(edge), std::move(route), conn, std::move(connection),
                                   std::move(model), to, std::move(request_id), ex)
      ->connect(upgrade, std::move(done));
}

void start_realtime_proxy(const std::shared_ptr<realtime_proxy>& proxy, beast::tcp_stream client,
                          string_request upgrade) {
  proxy->start(std::move(client), std::move(upgrade));
}

}  // namespace usher::actors::http
