#include "actors/gateway/gateway_config.hpp"

#include <charconv>

namespace usher::actors::gateway {

std::string upstream::host_field() const {
  return port == 80 ? host : host + ":" + std::to_string(port);
}

std::string parse_upstream(std::string_view text, upstream& out) {
  const std::string_view scheme = "http://";
  auto expected = "expected http://HOST:PORT such as http://127.0.0.1:8000, got \"" +
                  std::string(text) + "\"";
  if (text.substr(0, 8) == "https://")
    return "https upstreams are not supported: usher speaks plain HTTP to model servers on a "
           "private network (got \"" + std::string(text) + "\")";
  if (text.substr(0, scheme.size()) != scheme) return expected;
  auto rest = text.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (path.find_first_of("?# ") != std::string_view::npos) return expected;
  upstream u;
  u.text = std::string(text);
  auto colon = authority.rfind(':');
  bool bracketed = !authority.empty() && authority.back() == ']';
  std::string_view host = authority;
  if (colon != std::string_view::npos && !bracketed) {
    host = authority.substr(0, colon);
    auto digits = authority.substr(colon + 1);
    unsigned v = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size() ||
        v == 0 || v > 65535)
      return expected;
    u.port = static_cast<std::uint16_t>(v);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host.find_first_of("@/ ") != std::string_view::npos) return expected;
  u.host = std::string(host);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.size() >= 3 && path.substr(path.size() - 3) == "/v1") path.remove_suffix(3);
  u.prefix = std::string(path);
  out = std::move(u);
  return "";
}

}  // namespace usher::actors::gateway
