/// Fuzz target: WebSocket frames to GET /v1/realtime of a real node
/// (fuzz/live_edge.hpp). Each input opens a connection, upgrades it, and
/// then sends, by its first byte (`mode`):
///   mode & 1     the rest of the input as raw bytes (frame headers and all),
///                then half-closes;
///   otherwise    the rest split at '\n' into messages, each one masked
///                client frame, text (binary with mode & 2), cut into two
///                fragments with mode & 4, a ping before each with mode & 8;
///                then a close frame (a half-close instead with mode & 16).
/// The account is rt (exclusive), or sess (session-rate) with mode & 32, or
/// acme (streams) with mode & 64.
///
/// Findings: the process dies (the node crashed, ASan/UBSan), or
///  - the node writes a malformed frame (reserved bits, a mask, a bad
///    length), a binary message, or a text message that is not a JSON object
///    with a known "type" (error frames carry a numeric status and an error
///    object);
///  - afterwards the node does not grant a normal HTTP admission (a hang);
///  - every 256 inputs, the accounts' open connections, leases and waiters
///    do not fall back to 0 within 5 s of the sockets closing (a slot leaked
///    by a session).

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>

#include "fuzz/fuzz_support.hpp"
#include "fuzz/live_edge.hpp"

using namespace usher::fuzz;
using namespace std::chrono_literals;

namespace {

void append_frame(std::string& out, unsigned opcode, bool fin, std::string_view payload) {
  static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  out += static_cast<char>((fin ? 0x80 : 0) | opcode);
  auto n = payload.size();
  if (n < 126) {
    out += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff);
  }
  out.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i) out += static_cast<char>(payload[i] ^ mask[i % 4]);
}

void check_message(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    fail("a server frame that is not a JSON object with a type", text);
  auto type = j["type"].get<std::string>();
  if (type == "admitted" || type == "released") {
    if (!j["lease"].is_string()) fail("an answer frame without its lease", text);
  } else if (type == "error") {
    if (!j["status"].is_number_integer() || !j["error"].is_object() ||
        !j["error"]["code"].is_string())
      fail("an error frame without status or error object", text);
  } else {
    fail("a server frame of an unknown type", text);
  }
}

// Checks the frames the server wrote. A frame cut short at the end is fine
// (the node may close while a write is under way).
void check_frames(std::string_view b) {
  std::string message;
  bool in_message = false;
  while (b.size() >= 2) {
    auto b0 = static_cast<unsigned char>(b[0]), b1 = static_cast<unsigned char>(b[1]);
    bool fin = b0 & 0x80;
    unsigned op = b0 & 0x0f;
    if (b0 & 0x70) fail("a server frame with reserved bits set");
    if (b1 & 0x80) fail("a masked server frame");
    std::uint64_t len = b1 & 0x7f;
    std::size_t head = 2;
    if (len == 126) {
      if (b.size() < 4) return;
      len = (static_cast<unsigned char>(b[2]) << 8) | static_cast<unsigned char>(b[3]);
      head = 4;
    } else if (len == 127) {
      if (b.size() < 10) return;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(b[2 + i]);
      head = 10;
    }
    if (b.size() - head < len) return;
    std::string_view payload = b.substr(head, len);
    b.remove_prefix(head + len);
    if (op >= 8) {
      if (!fin || len > 125) fail("a fragmented or long control frame from the server");
      if (op == 8) {
        if (len == 1) fail("a close frame with a one-byte payload");
        return;  // nothing may follow a close
      }
      if (op != 9 && op != 10) fail("an unknown control opcode from the server");
      continue;
    }
    if (op == 2) fail("a binary message from the server");
    if (op == 1) {
      if (in_message) fail("a new message inside a fragmented one");
      message.clear();
      in_message = true;
    } else if (op != 0 || !in_message) {
      fail("a bad data opcode or a stray continuation from the server");
    }
    message.append(payload.data(), payload.size());
    if (fin) {
      check_message(message);
      in_message = false;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::size_t runs = 0;
  auto& node = live_edge::get();
  if (size == 0) return 0;
  unsigned mode = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const char* key = (mode & 64) ? "fuzz-key-acme" : (mode & 32) ? "fuzz-key-sess" : "fuzz-key-rt";

  std::string upgrade = std::string("GET /v1/realtime HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer ") +
                        key +
                        "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: "
                        "13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  {
    // The connection cap (rt: 5) may still count sockets of earlier inputs
    // that the node has not seen close yet: retry for a while.
    auto until = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      loopback_socket s(node.port());
      if (!s.write_all(upgrade, 2000ms)) fail("cannot send the upgrade");
      std::string got;
      s.read(got, 2000ms, [](const std::string& g) { return g.find("\r\n\r\n") != std::string::npos; });
      auto head_end = got.find("\r\n\r\n");
      if (head_end == std::string::npos) fail("no answer to a WebSocket upgrade", got);
      if (got.rfind("HTTP/1.1 101", 0) != 0) {
        // A refusal: read its body (Content-Length) before judging it.
        auto cl = got.find("Content-Length: ");
        std::size_t want = head_end + 4 +
                           (cl == std::string::npos || cl > head_end ? 0 : std::atoll(got.c_str() + cl + 16));
        if (got.size() < want)
          s.read(got, 2000ms, [want](const std::string& g) { return g.size() >= want; });
        check_http_responses(got, false);
        if (got.find("connection_cap") == std::string::npos &&
            got.find("session_rate") == std::string::npos)
          fail("a WebSocket upgrade refused", got);
        if (std::chrono::steady_clock::now() > until)
          fail("WebSocket upgrades refused for 5 s: connection slots leak?", got);
        std::this_thread::sleep_for(10ms);
        continue;
      }
      std::string out;
      if (mode & 1) {
        out.assign(rest.data(), rest.size());
      } else {
        std::size_t at = 0;
        while (at <= rest.size()) {
          auto nl = rest.find('\n', at);
          if (nl == std::string_view::npos) nl = rest.size();
          auto msg = rest.substr(at, nl - at);
          at = nl + 1;
          if (mode & 8) append_frame(out, 9, true, msg.substr(0, 125));
          unsigned op = (mode & 2) ? 2 : 1;
          if ((mode & 4) && msg.size() >= 2) {
            append_frame(out, op, false, msg.substr(0, msg.size() / 2));
            append_frame(out, 0, true, msg.substr(msg.size() / 2));
          } else {
            append_frame(out, op, true, msg);
          }
        }
        if (!(mode & 16)) append_frame(out, 8, true, std::string_view("\x03\xe8", 2));
      }
      bool sent = s.write_all(out, 2000ms);
      if (sent && ((mode & 1) || (mode & 16))) s.shut_write();
      std::string frames;
      s.read(frames, 500ms);
      check_frames(got.substr(head_end + 4) + frames);
      break;
    }
  }
  node.check_alive();
  if (++runs % 256 == 0) node.check_settled(5000ms);
  return 0;
}
