#include "actors/gateway/upstream_call.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "actors/http/responses.hpp"

namespace usher::actors::gateway {

namespace {

using clock = std::chrono::steady_clock;

/// A pooled connection idle longer may have been closed by the model server
/// (uvicorn, under vLLM, closes idle keep-alive connections after 5 s).
constexpr auto max_idle = std::chrono::seconds(4);
/// Bytes relayed per read: a stream's tokens come far smaller; a whole
/// answer takes a few reads. Held per open call, with the parser's buffer.
constexpr std::size_t piece_size = 8 * 1024;
constexpr std::string_view done_marker = "data: [DONE]";

std::string key_of(const upstream& u) { return u.host + ":" + std::to_string(u.port); }

}  // namespace

// Fields that belong to one hop, or carry the customer's credentials: never
// passed on (RFC 9110 7.6.1; the customer's key stays at the gateway).
bool hop_or_secret(std::string_view name) {
  static constexpr std::string_view dropped[] = {
      "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
      "te", "trailer", "transfer-encoding", "upgrade", "authorization", "api-key", "x-api-key",
      "content-length", "host", "expect", "x-request-id"};
  for (auto d : dropped)
    if (beast::iequals(beast::string_view(name.data(), name.size()), beast::string_view(d.data(), d.size()))) return true;
  return false;
}

// -- the pool ---------------------------------------------------------------

bool connection_pool::take(const upstream& to, const asio::any_io_executor& ex, tcp::socket& out) {
  if (per_upstream_ == 0) return false;
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = idle_.find(key_of(to));
  if (it == idle_.end()) return false;
  auto now = clock::now();
  while (!it->second.empty()) {
    auto c = std::move(it->second.back());
    it->second.pop_back();
    if (now - c.since > max_idle) continue;  // closed with the socket's destructor
    // Closed by the server meanwhile, or sending what nobody asked for: not reusable.
    char probe;
    auto got = ::recv(c.socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (got >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) continue;
    if (c.socket.get_executor() == ex) {
      out = std::move(c.socket);
    } else {  // another I/O thread's strand: the descriptor moves to ours
      beast::error_code ec;
      auto protocol = c.socket.local_endpoint(ec).protocol();
      if (ec) continue;
      auto fd = c.socket.release(ec);
      if (ec) continue;
      out = tcp::socket(ex, protocol, fd);
    }
    return true;
  }
  return false;
}

void connection_pool::give_back(const upstream& to, tcp::socket s) {
  if (per_upstream_ == 0 || !s.is_open()) return;
  std::lock_guard<std::mutex> guard(mutex_);
  auto& idle = idle_[key_of(to)];
  if (idle.size() >= per_upstream_) idle.erase(idle.begin());  // the oldest goes
  idle.push_back({std::move(s), clock::now()});
}

std::size_t connection_pool::idle() const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::size_t n = 0;
  for (auto& [key, v] : idle_) n += v.size();
  return n;
}

// -- the call ---------------------------------------------------------------

upstream_call::upstream_call(const call_context& ctx, tcp::socket& client, const upstream& to,
                             request req, http::lease_handle lease, std::string model,
                             std::chrono::milliseconds lease_ttl, bool count_tokens,
                             std::vector<std::pair<std::string, std::string>> extra, done_fn done)
    : ctx_(ctx),
      client_(client),
      ex_(client.get_executor()),
      to_(to),
      req_(std::move(req)),
      lease_(std::move(lease)),
      model_(std::move(model)),
      renew_every_(lease_ttl / 3),
      extra_(std::move(extra)),
      done_(std::move(done)),
      count_tokens_(count_tokens),
      upstream_(ex_),
      resolver_(ex_),
      timer_(ex_),
      client_http10_(req_.version() < 11),
      client_keep_alive_(req_.keep_alive()) {
  lease_.terms().model = model_;  // so that a node recovering adopts it
}

void upstream_call::start() {
  // The request as the model server sees it: the same method, path and
  // body; its own Host; the gateway's key instead of the customer's.
  std::string target = to_.prefix;
  target.append(req_.target().data(), req_.target().size());
  std::vector<std::string> drop;
  for (auto& f : req_)
    if (hop_or_secret({f.name_string().data(), f.name_string().size()}))
      drop.emplace_back(f.name_string());
  for (auto& name : drop) req_.erase(name);
  req_.target(target);
  req_.version(11);
  req_.set(bhttp::field::host, to_.host_field());
  if (!ctx_.config->upstream_key.empty())
    req_.set(bhttp::field::authorization, "Bearer " + ctx_.config->upstream_key);
  for (auto& [name, value] : extra_)
    if (name == "X-Request-Id") req_.set(name, value);
  req_.keep_alive(true);
  req_.prepare_payload();

  auto now = clock::now();
  next_renewal_ = renew_every_.count() > 0 ? now + renew_every_ : clock::time_point::max();
  if (ctx_.pool->take(to_, ex_, upstream_)) {
    reused_ = true;
    arm(ctx_.config->response_timeout);
    return send();
  }
  connect();
}

void upstream_call::connect() {
  phase_ = phase::connecting;
  arm(ctx_.config->connect_timeout);
  beast::error_code ec;
  upstream_ = tcp::socket(ex_);
  auto address = asio::ip::make_address(to_.host, ec);
  if (!ec) {  // a numeric address needs no resolver (and no resolver thread)
    upstream_.async_connect(tcp::endpoint(address, to_.port),
                            [self = shared_from_this()](beast::error_code ec) {
                              self->on_connected(ec);
                            });
    return;
  }
  resolver_.async_resolve(
      to_.host, std::to_string(to_.port),
      [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type found) {
        if (ec) return self->on_connected(ec);
        asio::async_connect(self->upstream_, found,
                            [self](beast::error_code ec, const tcp::endpoint&) {
                              self->on_connected(ec);
                            });
      });
}

void upstream_call::on_connected(beast::error_code ec) {
  if (phase_ == phase::finished) return;
  if (cancelled_) return finish(0, "client_gone", false);
  if (ec)
    return upstream_failed(502, "upstream_unavailable",
                           "The model server at " + to_.text + " cannot be reached: " + ec.message());
  upstream_.set_option(tcp::no_delay(true), ec);
  arm(ctx_.config->response_timeout);
  send();
}

void upstream_call::send() {
  phase_ = phase::sending;
  bhttp::async_write(upstream_, req_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_sent(ec);
                     });
}

void upstream_call::on_sent(beast::error_code ec) {
  if (phase_ == phase::finished) return;
  if (cancelled_) return finish(0, "client_gone", false);
  if (ec)
    return upstream_failed(502, "upstream_unavailable",
                           "The model server at " + to_.text + " broke the connection: " +
                               ec.message());
  phase_ = phase::awaiting_head;
  parser_.emplace();
  // Relayed piece by piece, never held whole: no limit. (Not boost::none:
  // Boost 1.74's parser compares a Content-Length with the optional limit,
  // and any length is greater than none.)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  upstream_buffer_.clear();
  bhttp::async_read_header(upstream_, upstream_buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             self->on_head(ec);
                           });
}

void upstream_call::on_head(beast::error_code ec) {
  if (phase_ == phase::finished) return;
  if (cancelled_) return finish(0, "client_gone", false);
  if (ec)
    return upstream_failed(502, "upstream_unavailable",
                           "The model server at " + to_.text + " closed the connection without "
                           "an answer: " + ec.message());
  auto& res = parser_->get();
  status_ = res.result_int();
  // An error is the end of the work: the slot is free before its body is relayed.
  if (status_ >= 400) free_slot();
  auto type = res[bhttp::field::content_type];
  event_stream_ = type.size() >= 17 && beast::iequals(type.substr(0, 17), "text/event-stream");
  if (count_tokens_) tokens_.emplace(event_stream_);

  std::string head;
  head.reserve(512);
  head.append(client_http10_ ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(status_));
  head.append(" ").append(res.reason().data(), res.reason().size()).append("\r\n");
  for (auto& f : res) {
    std::string_view name(f.name_string().data(), f.name_string().size());
    if (hop_or_secret(name)) continue;
    head.append(name).append(": ").append(f.value().data(), f.value().size()).append("\r\n");
  }
  for (auto& [name, value] : extra_) head.append(name).append(": ").append(value).append("\r\n");
  if (auto length = parser_->content_length()) {
    head.append("Content-Length: ").append(std::to_string(*length)).append("\r\n");
  } else if (status_ / 100 == 1 || status_ == 204 || status_ == 304) {
    // no body
  } else if (!client_http10_) {
    chunked_ = true;
    head.append("Transfer-Encoding: chunked\r\n");
  } else {
    client_keep_alive_ = false;  // an HTTP/1.0 client: the end of the body is the close
  }
  if (!client_keep_alive_) head.append("Connection: close\r\n");
  else if (client_http10_) head.append("Connection: keep-alive\r\n");
  head.append("\r\n");
  phase_ = phase::relaying;
  arm(ctx_.config->idle_timeout);
  if (parser_->is_done()) return write_client(std::move(head), true);
  // The head goes out with the first piece of the body: one write, one
  // packet, one wake-up of the client (the body usually came with the head).
  head_ = std::move(head);
  read_piece();
}

void upstream_call::read_piece() {
  if (!piece_) piece_.reset(new char[piece_size]);  // no zero fill: the parser writes it
  auto& body = parser_->get().body();
  body.data = piece_.get();
  body.size = piece_size;
  body.more = true;
  deadline_ = clock::now() + ctx_.config->idle_timeout;
  bhttp::async_read_some(upstream_, upstream_buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                           self->on_piece(ec);
                         });
}

void upstream_call::on_piece(beast::error_code ec) {
  if (phase_ == phase::finished) return;
  if (cancelled_) return finish(status_, "client_gone", false);
  if (ec == bhttp::error::need_buffer) ec = {};
  // The client sees the answer cut short (no last chunk, or fewer bytes
  // than its length), not a complete one.
  if (ec && !head_.empty()) {
    // Nothing reached the client yet: it gets a whole answer, 504 or 502.
    head_.clear();
    if (stalled_)
      return upstream_failed(504, "upstream_timeout",
                             "The model server at " + to_.text + " sent no answer in time");
    return upstream_failed(502, "upstream_unavailable",
                           "The model server at " + to_.text + " broke the connection before its "
                           "answer: " + ec.message());
  }
  if (ec) return finish(status_, stalled_ ? "upstream_stalled" : "upstream_broke", false);
  std::size_t n = piece_size - parser_->get().body().size;
  if (tokens_ && n > 0 && lease_.held()) tokens_->feed(piece_.get(), n);
  if (event_stream_ && n > 0) watch_for_done(piece_.get(), n);
  bool last = parser_->is_done();
  if (n == 0 && !last) return read_piece();
  std::string out = std::move(head_);
  head_.clear();
  out.reserve(out.size() + n + 16);
  if (n > 0) {
    if (chunked_) {
      char size[20];
      out.append(size, static_cast<std::size_t>(std::snprintf(size, sizeof size, "%zx\r\n", n)));
    }
    out.append(piece_.get(), n);
    if (chunked_) out.append("\r\n");
  }
  if (last && chunked_) out.append("0\r\n\r\n");
  write_client(std::move(out), last);
}

// The SSE stream's own end: the answer is complete, whatever the connection
// does next, so the slot is freed now.
void upstream_call::watch_for_done(const char* data, std::size_t n) {
  if (!lease_.held()) return;
  done_carry_.append(data, n);
  if (done_carry_.find(done_marker) != std::string::npos) {
    free_slot();
    done_carry_.clear();
    return;
  }
  if (done_carry_.size() > done_marker.size())
    done_carry_.erase(0, done_carry_.size() - done_marker.size());
}

void upstream_call::write_client(std::string bytes, bool last) {
  out_ = std::move(bytes);
  client_writing_ = true;
  client_write_since_ = clock::now();
  schedule();
  asio::async_write(client_, asio::buffer(out_),
                    [self = shared_from_this(), last](beast::error_code ec, std::size_t) {
                      self->on_client_written(ec, last);
                    });
}

void upstream_call::on_client_written(beast::error_code ec, bool last) {
  client_writing_ = false;
  if (phase_ == phase::finished) return;
  if (ec || cancelled_) return finish(status_, "client_gone", false);
  if (!last) return read_piece();
  if (phase_ == phase::relaying) {
    // The answer was read whole: its connection serves the next call.
    if (parser_->get().keep_alive()) ctx_.pool->give_back(to_, std::move(upstream_));
    return finish(status_, "", client_keep_alive_);
  }
  finish(status_, error_code_, client_keep_alive_);  // our own 502 or 504 was written
}

void upstream_call::upstream_failed(unsigned status, const char* code, const std::string& message) {
  // A pooled connection the server had closed: the request never reached
  // it, so it goes again on a new connection, once.
  bool timeout = std::string_view(code) == "upstream_timeout";
  if (reused_ && !retried_ && !timeout && phase_ != phase::relaying) {
    retried_ = true;
    reused_ = false;
    beast::error_code ignored;
    upstream_.close(ignored);
    return connect();
  }
  free_slot();
  beast::error_code ignored;
  upstream_.close(ignored);
  resolver_.cancel();
  phase_ = phase::answering;
  status_ = status;
  error_code_ = code;
  auto res = http::error_response(status, http::error_type::server, code, message,
                                  client_http10_ ? 10 : 11, client_keep_alive_);
  for (auto& [name, value] : extra_) res.set(name, value);
  std::string out;
  http::append_wire(res, out);
  write_client(std::move(out), true);
}

void upstream_call::cancel() {
  cancelled_ = true;
  if (phase_ == phase::finished) return;
  // Every operation under way ends with an error, and its handler finishes
  // the call: the upstream's (closed), the client's (cancelled).
  beast::error_code ignored;
  resolver_.cancel();
  upstream_.close(ignored);
  if (client_writing_) client_.cancel(ignored);
}

void upstream_call::finish(unsigned status, const char* code, bool keep_alive) {
  if (phase_ == phase::finished) return;
  phase_ = phase::finished;
  free_slot();
  beast::error_code ignored;
  timer_.cancel();
  resolver_.cancel();
  upstream_.close(ignored);
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(call_end{status, code, keep_alive});
}

// -- time: one timer for the phase's timeout, renewals and slow clients ------

void upstream_call::arm(std::chrono::milliseconds d) {
  deadline_ = clock::now() + d;
  schedule();
}

void upstream_call::schedule() {
  auto at = std::min(deadline_, next_renewal_);
  if (client_writing_) at = std::min(at, client_write_since_ + ctx_.write_timeout);
  // A later wake-up than the one set finds nothing due and sets the next.
  if (timer_armed_ && timer_.expiry() <= at) return;
  timer_armed_ = true;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->on_timer(ec); });
}

void upstream_call::on_timer(beast::error_code ec) {
  if (ec == asio::error::operation_aborted) return;  // re-armed earlier, or finished
  timer_armed_ = false;
  if (phase_ == phase::finished) return;
  auto now = clock::now();
  if (now >= next_renewal_) {
    lease_.renew();
    next_renewal_ = lease_.held() ? now + renew_every_ : clock::time_point::max();
  }
  if (client_writing_ && now >= client_write_since_ + ctx_.write_timeout) {
    // The client takes nothing: it holds the slot no longer.
    cancelled_ = true;
    beast::error_code ignored;
    upstream_.close(ignored);
    client_.cancel(ignored);
    return;  // the write's handler finishes the call
  }
  if (now >= deadline_ && !client_writing_) {
    switch (phase_) {
      case phase::connecting:
        return upstream_failed(504, "upstream_timeout",
                               "The model server at " + to_.text + " did not accept a "
                               "connection in time");
      case phase::sending:
      case phase::awaiting_head:
        return upstream_failed(504, "upstream_timeout",
                               "The model server at " + to_.text + " did not answer in time");
      case phase::relaying: {
        // A stalled answer: cut, so the slot is not held by silence.
        stalled_ = true;
        beast::error_code ignored;
        upstream_.close(ignored);  // the read's handler finishes the call
        return;
      }
      case phase::answering:
      case phase::finished: break;
    }
  }
  if (now >= deadline_) deadline_ = clock::time_point::max();
  schedule();
}

}  // namespace usher::actors::gateway
