// `usher serve` under systemd's Type=notify (issue #15): READY=1 once it
// listens, STOPPING=1 when SIGTERM stops it, sent to the datagram socket
// named by $NOTIFY_SOCKET (here a socket of the test's, as systemd's would
// be). Built without libsystemd (USHER_HAVE_SYSTEMD unset by
// tests/CMakeLists.txt), the node sends nothing and there is nothing to check.
#include <sys/socket.h>
#include <sys/un.h>

#include <catch2/catch.hpp>

#include "support/live_node.hpp"
#include "support/usher_cli.hpp"

using usher::testing::key_line;
using usher::testing::live_node;

namespace {

/// The next datagram on `fd` within `within`, or "" when none came.
std::string next_datagram(int fd, std::chrono::milliseconds within) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(within.count())) <= 0) return "";
  char buf[512];
  auto got = ::recv(fd, buf, sizeof buf, 0);
  return got > 0 ? std::string(buf, static_cast<std::size_t>(got)) : "";
}

}  // namespace

TEST_CASE("usher serve tells systemd it is ready once it listens, and that it stops on SIGTERM") {
#ifndef USHER_HAVE_SYSTEMD
  WARN("built without libsystemd: usher serve does not sd_notify");
#else
  auto path = usher::testing::scratch("notify").string();
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  path.copy(addr.sun_path, path.size());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);

  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);  // the node inherits it
  live_node node("[account.acme]\nplan = streams:solo\n" + key_line("acme-key"));
  ::unsetenv("NOTIFY_SOCKET");

  auto ready = next_datagram(fd, std::chrono::seconds(10));
  CHECK(ready.find("READY=1") != std::string::npos);
  CHECK(ready.find("STATUS=listening on 127.0.0.1:" + std::to_string(node.port)) !=
        std::string::npos);
  CHECK(next_datagram(fd, std::chrono::milliseconds(200)).empty());  // nothing more while it runs

  CHECK(node.stop() == 0);
  CHECK(next_datagram(fd, std::chrono::seconds(10)).find("STOPPING=1") != std::string::npos);
  ::close(fd);
#endif
}
