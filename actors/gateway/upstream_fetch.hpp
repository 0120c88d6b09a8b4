#pragma once
/// One small GET whose whole answer the node reads itself, as opposed to
/// upstream_call, which relays an answer to a client: GET /v1/models of the
/// default upstream, merged with the models configured one by one
/// (docs/GATEWAY.md). A fresh connection (the answer is read whole, so no
/// pooled connection is worth its bookkeeping), the upstream key, one
/// deadline for all of it, and an answer of at most max_answer bytes.
/// Runs on the executor it is given; `done` runs once, on it.

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "actors/gateway/gateway_config.hpp"

namespace usher::actors::gateway {

class upstream_fetch : public std::enable_shared_from_this<upstream_fetch> {
 public:
  static constexpr std::size_t max_answer = 4u << 20;

  struct result {
    unsigned status = 0;  ///< the upstream's status; 0: no answer (see error)
    std::string body;
    std::string error;    ///< why there is no answer: for the client's 502
  };
  using done_fn = std::function<void(result)>;

  /// GET `path` (behind the upstream's prefix) from `to`, with
  /// `Authorization: Bearer key` unless `key` is empty.
  upstream_fetch(boost::asio::any_io_executor ex, const upstream& to, const std::string& path,
                 const std::string& key, std::chrono::milliseconds timeout, done_fn done);

  void start();

 private:
  void on_connected(boost::beast::error_code ec);
  void fail(const std::string& what, boost::beast::error_code ec);

  const upstream& to_;
  boost::beast::tcp_stream stream_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::beast::http::request<boost::beast::http::empty_body> req_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::response_parser<boost::beast::http::string_body> parser_;
  std::chrono::milliseconds timeout_;
  done_fn done_;
};

}  // namespace usher::actors::gateway
