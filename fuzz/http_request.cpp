/// Fuzz target: the HTTP request path of a real node. Each input is written
/// as raw bytes over a fresh loopback connection to a live edge running in
/// this process (fuzz/live_edge.hpp: the admission actors and
/// actors/http/edge.hpp as `usher serve` builds them); then the connection
/// is half-closed and what the node writes back is read until it closes the
/// connection or 300 ms pass. An input may hold several pipelined requests,
/// a WebSocket upgrade, a long-poll, anything.
///
/// Findings: the process dies (the node crashed, ASan/UBSan), or
///  - the node's answers are not well-formed HTTP responses, or it closes the
///    connection in the middle of one;
///  - a 500 (an exception escaped a route), or an application/json body that
///    is not JSON;
///  - afterwards the node no longer grants and releases a normal admission
///    of an account the input could not touch within 10 s (a hang, a dead
///    I/O thread, a stuck actor), or /metrics counts an internal error;
///  - every 20 s: what the inputs held (leases, queue places, WebSocket
///    connections) is not all given back within 8 s (leases live 2 s).

#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "fuzz/live_edge.hpp"

using namespace usher::fuzz;
using namespace std::chrono_literals;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& node = live_edge::get();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string answer;
  loopback_socket::end how = loopback_socket::end::reset;
  {
    loopback_socket s(node.port());
    if (s.write_all(input, 2000ms)) {
      s.shut_write();
      how = s.read(answer, 300ms);
    } else {
      s.read(answer, 300ms);  // the node cut us off: what it said must still be right
    }
  }
  check_http_responses(answer, how == loopback_socket::end::closed);
  node.check_alive();
  // Every 20 s (a wait of about one lease TTL, so not after every input).
  static auto next_settle = std::chrono::steady_clock::now() + 20s;
  if (std::chrono::steady_clock::now() > next_settle) {
    node.check_settled(8000ms);
    next_settle = std::chrono::steady_clock::now() + 20s;
  }
  return 0;
}
