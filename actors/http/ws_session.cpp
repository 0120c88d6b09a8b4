// GET /v1/realtime: one WebSocket connection of an account (the exclusive and
// session-rate families). The connection itself holds a lease (the ws_open
// slot that counts against 5 x concurrency and the session rate); every
// request over it asks the same admission actor, so requests over all of an
// account's sockets share its concurrency. A refused request gets an error
// frame and the socket stays open. Closing the socket releases the
// connection and every lease taken over it (lease_handle). When the node
// drains, the socket is closed with 1001 (going away).
//
// Frames (text, JSON):
//   -> {"type":"request","model":..,"cost":..,"product":..}
//   <- {"type":"admitted","lease":..}   or   {"type":"error","status":429,"error":{..}}
//   -> {"type":"release","lease":..}     (optional "output_tokens": the answer's, docs/PLANS.md)
//   <- {"type":"released","lease":..}   or   {"type":"error","status":404,"error":{..}}
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>

#include "actors/http/bridge.hpp"
#include "actors/http/lease_keeper.hpp"
#include "actors/http/request_fields.hpp"
#include "actors/http/responses.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

namespace {

namespace websocket = beast::websocket;

constexpr std::size_t max_frame = 64 * 1024;
constexpr std::size_t max_leases_per_socket = 1024;
constexpr std::size_t max_outbox = 1024;  ///< frames written and not yet taken

class ws_session : public edge::impl::stream_conn, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(beast::tcp_stream stream, std::shared_ptr<edge::impl> edge, account_route route,
             std::uint64_t conn, lease_handle connection)
      : ws_(std::move(stream)), edge_(std::move(edge)), route_(std::move(route)), conn_(conn),
        connection_(std::move(connection)), keeper_(ws_.get_executor(), edge_->to_actors) {}

  ~ws_session() override {
    edge_->remove_stream(this);
    --edge_->ws_open;
  }

  // The node drains: a close frame 1001 once the handshake is done. The
  // closing handshake is bounded by request_timeout, as the opening one.
  void go_away() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      if (self->closed_ || self->going_away_) return;
      self->going_away_ = true;
      if (self->accepted_) self->close_going_away();
    });
  }

  void accept(string_request upgrade, bool policy_close, std::string request_id) {
    ++edge_->ws_open;
    edge_->add_stream(shared_from_this());
    beast::get_lowest_layer(ws_).expires_never();
    // Beast's server defaults (a peer silent for 300 s is closed), with the
    // node's request_timeout for the opening and closing handshakes.
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.handshake_timeout = edge_->cfg.request_timeout;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [request_id, chosen = std::string(answered_subprotocol(
                         field_value(upgrade, bhttp::field::sec_websocket_protocol)))](
            websocket::response_type& res) {
          decorate_ws_answer(res, request_id, chosen);
        }));
    ws_.read_message_max(max_frame);
    ws_.async_accept(upgrade, [self = shared_from_this(), policy_close](beast::error_code ec) {
      if (ec) return self->end();
      self->accepted_ = true;
      if (policy_close) {
        ++self->edge_->ws_policy_closes;
        websocket::close_reason why(static_cast<websocket::close_code>(1008),
                                    session_rate_reason);
        return self->ws_.async_close(why, [self](beast::error_code) { self->end(); });
      }
      if (self->going_away_) return self->close_going_away();
      self->keep_leases();
      self->read();
    });
  }

 private:
  void close_going_away() { close_with(websocket::close_code::going_away, "going away"); }

  // Beast suspends the close behind a pending write and read; the close's
  // handler ends the session. A closing socket takes no more requests, so
  // its leases go now: the close completes only once the client ends TCP.
  void close_with(websocket::close_code code, const char* reason) {
    keeper_.stop();
    leases_.clear();
    connection_.release();
    websocket::close_reason why(code, reason);
    ws_.async_close(why, [self = shared_from_this()](beast::error_code) { self->end(); });
  }

  // In a cluster the connection's leases have a TTL: renewed while the
  // socket is open; one the owner no longer holds closes the socket with
  // 1013 (try again later), the client reconnecting to a member that can
  // admit it (lease_keeper.hpp).
  void keep_leases() {
    std::weak_ptr<ws_session> w = shared_from_this();
    keeper_.start(
        connection_.ttl(),
        [w](const std::function<void(const lease_handle&)>& visit) {
          auto self = w.lock();
          if (!self) return;
          visit(self->connection_);
          for (auto& [id, held] : self->leases_) visit(held);
        },
        [w] {
          auto self = w.lock();
          if (!self || self->closed_ || self->going_away_) return;
          ++self->edge_->ws_leases_lost;
          self->going_away_ = true;  // takes no more frames
          self->close_with(websocket::close_code::try_again_later, lease_lost_reason);
        });
  }

  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec && self->going_away_) return;  // the close's handler ends it
      if (ec) return self->end();
      auto text = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      try {
        self->on_frame(text);
      } catch (const std::exception& e) {
        // As an HTTP route that throws: the connection ends (its leases
        // are released), the node goes on.
        self->edge_->report_internal_error("WebSocket frame", e);
        return self->end();
      }
      self->read();
    });
  }

  void error_frame(unsigned status, const std::string& error_object) {
    send("{\"type\":\"error\",\"status\":" + std::to_string(status) + ",\"error\":" +
         error_object + "}");
  }

  void on_frame(const std::string& text) {
    static constexpr std::string_view names[] = {"type", "model", "product", "cost", "lease", "output_tokens"};
    json_member f[6];
    if (read_members(text, names, f, 6) != json_read::ok ||
        f[0].is != json_member::type::string)
      return error_frame(400, error_object(error_type::invalid_request, "malformed_json",
                                           "Expected a JSON object with a \"type\""));
    const auto& type = f[0].text;
    if (type == "request") {
      admit_request msg;
      msg.account = route_.account;
      msg.key = route_.key;
      msg.request_id = edge_->next_request++;
      msg.what = policies::kind::ws_request;
      msg.conn = conn_;
      msg.holder_is_connection = true;
      const char* field = nullptr;
      if (auto e = take_admit_fields(f[1], f[2], f[3], msg, &field); !e.empty())
        return error_frame(400,
                           error_object(error_type::invalid_request, "invalid_field", e, field));
      if (leases_.size() >= max_leases_per_socket)
        return error_frame(429, error_object(error_type::rate_limit, "too_many_leases",
                                             "Too many leases held over one connection"));
      lease_request renewal_terms{msg.account, "", lease_op::renew};
      renewal_terms.model = msg.model;
      renewal_terms.product = msg.product;
      renewal_terms.cost = msg.cost;
      renewal_terms.key = msg.key;
      renewal_terms.conn = conn_;
      edge_->to_actors.ask<admit_reply>(route_.actor, std::move(msg), ws_.get_executor(),
                       [self = shared_from_this(), renewal_terms = std::move(renewal_terms)](
                           std::optional<admit_reply> r) {
                         lease_handle held;
                         if (r && r->code == 200) {
                           held = lease_handle(self->route_.actor, self->route_.account, r->lease);
                           held.terms() = renewal_terms;
                           held.terms().lease = r->lease;
                           held.set_ttl(std::chrono::milliseconds(r->lease_ttl_ms));
                         }
                         if (self->closed_) return;  // the handle releases it
                         if (!r) return self->end();
                         if (r->code == 200) {
                           auto id = held.id();
                           self->leases_.emplace(id, std::move(held));
                           return self->send("{\"type\":\"admitted\",\"lease\":\"" + id + "\"}");
                         }
                         unsigned status = 0;
                         auto obj = refusal_object(*r, status);
                         // A frame's session-rate refusal says 429: counted so.
                         if (r->code == 1008) self->edge_->count_refusal_as_429(self->route_.account);
                         self->error_frame(status, obj);
                       });
      return;
    }
    if (type == "release") {
      auto i = leases_.find(f[4].is == json_member::type::string ? f[4].text : std::string());
      if (i == leases_.end())
        return error_frame(404, error_object(error_type::not_found, "unknown_lease",
                                             "No such lease on this connection", "lease"));
      lease_request said;  // its output_tokens: a per-token adaptive limit's sample
      if (auto e = take_output_tokens(f[5], said); !e.empty())
        return error_frame(400, error_object(error_type::invalid_request, "invalid_field", e, "output_tokens"));
      std::string frame = "{\"type\":\"released\",\"lease\":";
      append_json_string(i->first, frame);
      frame += '}';
      i->second.release(said.output_tokens);
      leases_.erase(i);
      return send(std::move(frame));
    }
    error_frame(400, error_object(error_type::invalid_request, "unknown_type",
                                  "\"type\" must be \"request\" or \"release\"", "type"));
  }

  void send(std::string frame) {
    if (closed_ || going_away_) return;
    // A client that sends requests and never reads the answers would grow
    // the outbox without bound: cut it off.
    if (outbox_.size() >= max_outbox) return end();
    outbox_.push_back(std::move(frame));
    if (outbox_.size() == 1) write();
  }

  void write() {
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec) return self->end();
                      self->outbox_.pop_front();
                      if (!self->outbox_.empty() && !self->going_away_) self->write();
                    });
  }

  // The connection is over: every lease it held is released by its handle.
  void end() {
    if (closed_) return;
    closed_ = true;
    keeper_.stop();
    leases_.clear();
    connection_.release();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<edge::impl> edge_;
  account_route route_;
  std::uint64_t conn_;
  lease_handle connection_;
  std::map<std::string, lease_handle> leases_;
  lease_keeper keeper_;
  beast::flat_buffer in_;
  std::deque<std::string> outbox_;
  bool closed_ = false;
  bool accepted_ = false;    ///< the opening handshake is done
  bool going_away_ = false;  ///< the node drains: closing with 1001
};

}  // namespace

void decorate_ws_answer(string_response& res, const std::string& request_id,
                        std::string_view subprotocol) {
  res.set(bhttp::field::server, "usher");
  res.set("X-Request-Id", request_id);
  if (!subprotocol.empty() && res.result() == bhttp::status::switching_protocols)
    res.set(bhttp::field::sec_websocket_protocol,
            beast::string_view(subprotocol.data(), subprotocol.size()));
  // Beast refuses a bad handshake (a Sec-WebSocket-Key or -Version it
  // cannot use: 400, or 426) with its message as plain text; the node's
  // errors are JSON.
  if (res.result() == bhttp::status::switching_protocols) return;
  bool version = res.result() == bhttp::status::upgrade_required;
  res.set(bhttp::field::content_type, "application/json");
  res.body() =
      "{\"error\":" +
      error_object(error_type::invalid_request, version ? "upgrade_required" : "bad_handshake",
                   "WebSocket handshake refused: " + res.body()) +
      "}";
  res.prepare_payload();
}

void start_ws_session(beast::tcp_stream stream, string_request upgrade,
                      std::shared_ptr<edge::impl> edge, account_route route, std::uint64_t conn,
                      lease_handle connection, bool policy_close, std::string request_id) {
  std::make_shared<ws_session>(std::move(stream), std::move(edge), std::move(route), conn,
                               std::move(connection))
      ->accept(std::move(upgrade), policy_close, std::move(request_id));
}

}  // namespace usher::actors::http
