#include "actors/gateway/upstream_fetch.hpp"

namespace usher::actors::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

upstream_fetch::upstream_fetch(asio::any_io_executor ex, const upstream& to,
                               const std::string& path, const std::string& key,
                               std::chrono::milliseconds timeout, done_fn done)
    : to_(to), stream_(ex), resolver_(ex), timeout_(timeout), done_(std::move(done)) {
  req_.method(bhttp::verb::get);
  req_.target(to.prefix + path);
  req_.version(11);
  req_.set(bhttp::field::host, to.host_field());
  req_.set(bhttp::field::accept, "application/json");
  req_.set(bhttp::field::connection, "close");
  if (!key.empty()) req_.set(bhttp::field::authorization, "Bearer " + key);
  parser_.body_limit(max_answer);
}

void upstream_fetch::start() {
  // One deadline for connecting, sending and reading: the stream's own.
  stream_.expires_after(timeout_);
  beast::error_code ec;
  auto address = asio::ip::make_address(to_.host, ec);
  if (!ec) {  // a numeric address needs no resolver
    stream_.async_connect(tcp::endpoint(address, to_.port),
                          [self = shared_from_this()](beast::error_code ec) { self->on_connected(ec); });
    return;
  }
  resolver_.async_resolve(
      to_.host, std::to_string(to_.port),
      [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type found) {
        if (ec) return self->fail("cannot be reached", ec);
        self->stream_.async_connect(found, [self](beast::error_code ec, const tcp::endpoint&) {
          self->on_connected(ec);
        });
      });
}

void upstream_fetch::on_connected(beast::error_code ec) {
  if (ec) return fail("cannot be reached", ec);
  bhttp::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->fail("broke the connection", ec);
    bhttp::async_read(self->stream_, self->buffer_, self->parser_,
                      [self](beast::error_code ec, std::size_t) {
                        if (ec) return self->fail("gave no readable answer", ec);
                        result r;
                        r.status = self->parser_.get().result_int();
                        r.body = std::move(self->parser_.get().body());
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                        self->done_(std::move(r));
                      });
  });
}

void upstream_fetch::fail(const std::string& what, beast::error_code ec) {
  result r;
  r.error = "The model server at " + to_.text + " " + what + ": " +
            (ec == beast::error::timeout ? std::string("no answer in time") : ec.message());
  done_(std::move(r));
}

}  // namespace usher::actors::gateway
