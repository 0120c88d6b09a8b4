#pragma once
/// What every session of the edge shares: the config, the io_context, the
/// actor system, id counters and the edge's own response counters. Private
/// to actors/http/. Counters are touched only on I/O threads, hence atomics
/// (cfg.io_threads may exceed 1).

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>

#include "actors/http/edge.hpp"

namespace usher::actors::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

using string_request = bhttp::request<bhttp::string_body>;
using string_response = bhttp::response<bhttp::string_body>;

struct edge::impl : std::enable_shared_from_this<edge::impl> {
  impl(caf::actor_system& s, edge_config c) : sys(s), cfg(std::move(c)), acceptor(io) {}

  caf::actor_system& sys;
  edge_config cfg;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::atomic<std::uint64_t> next_request{1};
  std::atomic<std::uint64_t> next_conn{1};
  std::atomic<bool> stopping{false};
  /// Responses sent, by HTTP status (index: status - 100; 1008 closes counted apart).
  std::array<std::atomic<std::int64_t>, 500> responses{};
  std::atomic<std::int64_t> ws_policy_closes{0};
  std::atomic<std::int64_t> sse_streams{0};
  std::atomic<std::int64_t> ws_open{0};

  /// The account of a bearer token, or nullptr.
  const account_route* authenticate(const string_request& req) const;
  void count(unsigned status) {
    if (status >= 100 && status < 600) ++responses[status - 100];
  }
  void accept();
};

}  // namespace usher::actors::http
