#include "actors/cluster/cluster_config.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace usher::actors::cluster {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool valid_node_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

}  // namespace

std::vector<std::string> cluster_config::member_names() const {
  std::vector<std::string> out;
  for (auto& p : peers) out.push_back(p.name);
  return out;
}

bool parse_host_port(std::string_view text, std::string& host, std::uint16_t& port, bool any_port) {
  text = trim(text);
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto digits = text.substr(colon + 1);
  unsigned v = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (h.empty() || digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size() ||
      (v == 0 && !any_port) || v > 65535)
    return false;
  host = std::string(h);
  port = static_cast<std::uint16_t>(v);
  return true;
}

bool parse_peers(std::string_view text, std::vector<peer>& out, std::string& error) {
  out.clear();
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    auto at = item.find('@');
    peer p;
    if (at == std::string_view::npos || !valid_node_name(item.substr(0, at)) ||
        !parse_host_port(item.substr(at + 1), p.host, p.port)) {
      error = "expected NAME@HOST:PORT (a name of 1-64 letters, digits, '_' or '-'; a port "
              "from 1 to 65535), got \"" + std::string(item) + "\"";
      return false;
    }
    p.name = std::string(item.substr(0, at));
    out.push_back(std::move(p));
  }
  if (out.empty()) {
    error = "expected at least one NAME@HOST:PORT";
    return false;
  }
  return true;
}

std::string finish_cluster_config(cluster_config& c, const std::string& node) {
  if (!node.empty()) c.name = node;
  if (c.peers.empty()) return "peers is required: every member as NAME@HOST:PORT, this node included";
  std::set<std::string> names, addresses;
  for (auto& p : c.peers) {
    if (!names.insert(p.name).second) return "peers names \"" + p.name + "\" twice";
    auto address = p.host + ":" + std::to_string(p.port);
    if (!addresses.insert(address).second) return "peers gives " + address + " to two members";
  }
  if (c.name.empty()) return "name is required (or usher serve --node NAME): which of the peers this node is";
  auto self = std::find_if(c.peers.begin(), c.peers.end(), [&](const peer& p) { return p.name == c.name; });
  if (self == c.peers.end())
    return "this node, \"" + c.name + "\", is not among the peers";
  if (c.listen_host.empty()) {
    c.listen_host = self->host;
    c.listen_port = self->port;
  } else if (c.listen_port != self->port) {
    // The others reach this node at its peers entry; a different port there
    // would leave it unreachable.
    return "listen port " + std::to_string(c.listen_port) + " differs from this node's peers entry " +
           self->host + ":" + std::to_string(self->port);
  }
  if (c.heartbeat * 2 > c.failure_timeout)
    return "failure_timeout must be at least twice the heartbeat, or one late heartbeat downs a peer";
  if (c.replicas == 1 && c.peers.size() < 2) return "replicas = 1 needs at least two peers";
  return "";
}

}  // namespace usher::actors::cluster
