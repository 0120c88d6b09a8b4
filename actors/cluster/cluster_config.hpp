#pragma once
/// The `[cluster]` section of a node config (docs/CLUSTER.md), the same file
/// on every node:
///
///   [cluster]
///   name = a                      # this node: one of the peers (or --node a)
///   listen = 127.0.0.1:7401       # CAF port for node-to-node traffic (default: its peers entry)
///   peers = a@127.0.0.1:7401, b@127.0.0.1:7402, c@127.0.0.1:7403
///   replicas = 0                  # 0 (1, a copy on another node, is not available yet)
///   heartbeat = 500ms
///   failure_timeout = 2s          # a peer silent this long is down
///
/// Plain data and checks; the INI reading is tools/serve_config's.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policies/time.hpp"

namespace usher::actors::cluster {

struct peer {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
};

struct cluster_config {
  bool enabled = false;          ///< a [cluster] section was given
  std::string where;             ///< "FILE:LINE" of the section, for errors
  std::string name;              ///< this node
  std::string listen_host;       ///< "" until resolved from peers
  std::uint16_t listen_port = 0;
  std::vector<peer> peers;       ///< every member, this node included, as written
  int replicas = 0;
  policies::usec heartbeat = policies::seconds(1) / 2;
  policies::usec failure_timeout = policies::seconds(2);
  /// SHA-256 of the [account.*] and [plan.*] lines: nodes whose limits
  /// differ refuse to form a cluster (compared at join).
  std::string limits_digest;

  /// Members needed to grant: a strict majority of `peers`.
  std::size_t majority() const { return peers.size() / 2 + 1; }
  std::vector<std::string> member_names() const;
};

/// Parses "a@HOST:PORT, b@HOST:PORT": false with `error` set when it cannot.
bool parse_peers(std::string_view text, std::vector<peer>& out, std::string& error);

/// Parses "HOST:PORT" (HOST may be [v6]); false when it cannot. Port 0
/// (any free one) only with `any_port`.
bool parse_host_port(std::string_view text, std::string& host, std::uint16_t& port,
                     bool any_port = false);

/// Resolves this node (`node` from --node, else `c.name`) and its listen
/// address, and checks the section as a whole. Returns "" when it is sound,
/// else what is wrong, in words for the operator.
std::string finish_cluster_config(cluster_config& c, const std::string& node);

}  // namespace usher::actors::cluster
