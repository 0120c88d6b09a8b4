// GET /account/concurrency/stream: Server-Sent Events in the weighted seed's
// format, one frame on connect and then one every two seconds, scoped to the
// caller's account. Between frames it costs a timer and a socket; it ends
// when the client closes the connection, a write fails, a frame is not
// taken within write_timeout, or the node drains.
#include "actors/http/bridge.hpp"
#include "actors/http/responses.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

namespace {

constexpr auto frame_every = std::chrono::seconds(2);

class sse_session : public edge::impl::stream_conn,
                    public std::enable_shared_from_this<sse_session> {
 public:
  sse_session(tcp::socket socket, std::shared_ptr<edge::impl> edge, account_route route)
      : socket_(std::move(socket)), edge_(std::move(edge)), route_(std::move(route)),
        timer_(socket_.get_executor()) {}

  void start(const std::string& request_id) {
    ++edge_->sse_streams;
    out_ =
        "HTTP/1.1 200 OK\r\nServer: usher\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nConnection: close\r\nX-Request-Id: " +
        request_id + "\r\n\r\n";
    next_ = std::chrono::steady_clock::now();
    edge_->add_stream(shared_from_this());
    watch();
    frame();
  }

  ~sse_session() override {
    edge_->remove_stream(this);
    --edge_->sse_streams;
  }

  // The node drains: the stream ends (its client reconnects elsewhere).
  void go_away() override {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

 private:
  void frame() {
    if (closed_) return;
    edge_->to_actors.ask<concurrency_snapshot>(route_.actor, usage_query{route_.account},
                                              socket_.get_executor(),
                              [self = shared_from_this()](std::optional<concurrency_snapshot> s) {
                                if (!s || self->edge_->stopping) return self->close();
                                self->out_ += "data: " + snapshot_json(*s) + "\n\n";
                                self->write();
                              });
  }

  // A frame the client does not take within write_timeout (it stopped
  // reading) ends the stream: the timer, idle while a write is open, guards it.
  void write() {
    if (closed_) return;
    auto data = std::make_shared<std::string>(std::move(out_));
    out_.clear();
    writing_ = true;
    timer_.expires_after(edge_->cfg.write_timeout);
    timer_.async_wait([self = shared_from_this()](beast::error_code e) {
      if (!e && self->writing_) self->close();
    });
    asio::async_write(socket_, asio::buffer(*data),
                      [self = shared_from_this(), data](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) return self->close();
                        self->next_ += frame_every;
                        self->timer_.expires_at(self->next_);
                        self->timer_.async_wait([self](beast::error_code e) {
                          if (!e) self->frame();
                        });
                      });
  }

  // A client that closes its side makes the socket readable with nothing to read.
  void watch() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      beast::error_code e;
      auto n = self->socket_.available(e);
      if (e || n == 0) return self->close();
      // The client sent bytes (it should not): drop them and keep watching.
      std::array<char, 512> sink;
      self->socket_.read_some(asio::buffer(sink), e);
      if (!e) self->watch();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  std::shared_ptr<edge::impl> edge_;
  account_route route_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point next_;
  std::string out_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

void start_sse_session(tcp::socket socket, std::shared_ptr<edge::impl> edge, account_route route,
                       const std::string& request_id) {
  std::make_shared<sse_session>(std::move(socket), std::move(edge), std::move(route))
      ->start(request_id);
}

}  // namespace usher::actors::http
