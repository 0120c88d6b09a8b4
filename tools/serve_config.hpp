#pragma once
/// The node config of `usher serve`: an INI file (read by traces/ini_file.hpp,
/// so every error names its file and line) with three kinds of sections.
///
///   [node]            listen, threads, io_threads, lease_ttl, max_body, metrics_key,
///                     metrics_accounts, max_names_per_account, recovery,
///                     max_connections, request_timeout, idle_timeout, write_timeout,
///                     drain_timeout, access_log, error_log, log_level
///   [plan.NAME]       a named plan: `preset = ...` plus any plan key of
///                     docs/PLANS.md (model_capacity.MODEL, tiers.team, ...)
///   [cluster]         name, listen, peers, replicas, heartbeat, failure_timeout
///                     (actors/cluster/cluster_config.hpp, docs/CLUSTER.md)
///   [account.NAME]    plan = PRESET | NAME of a [plan.NAME] | plan file path;
///                     key = SHA-256 hex of an API key (repeatable);
///                     any account key of docs/PLANS.md for this account only
///                     (`queue.max_wait = 30`, or in [account.NAME.queue]).
///
/// Accounts that name the same plan share one plan (their own keys become
/// `account.NAME.KEY` settings of it), so a gate shared by all accounts of a
/// plan (model_capacity) is one gate. docs/SERVE.md is the reference.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/cluster/cluster_config.hpp"
#include "actors/gateway/gateway_config.hpp"
#include "policies/plan.hpp"
#include "policies/time.hpp"
#include "traces/ini_file.hpp"

namespace usher::tools {

struct served_account {
  std::string name;
  std::vector<std::string> key_hashes;  ///< lowercase hex
  std::size_t plan = 0;                 ///< index into node_config::plans
};

struct served_plan {
  std::string spec;  ///< as the accounts name it
  std::shared_ptr<const policies::plan> plan;
  std::vector<std::string> accounts;
};

struct node_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;          ///< 0: an ephemeral port (printed at start)
  std::size_t threads = 2;            ///< CAF scheduler workers
  std::size_t io_threads = 1;         ///< threads running the HTTP edge (and the actors it wakes)
  policies::usec lease_ttl = policies::seconds(30);
  std::size_t max_body = 64 * 1024;   ///< bytes; larger request bodies get 413
  std::string metrics_key_hash;       ///< "": GET /metrics needs no key
  std::size_t metrics_accounts = 50;  ///< accounts with their own /metrics labels
  std::size_t max_connections = 0;    ///< open connections at most; 0: from RLIMIT_NOFILE
  policies::usec request_timeout = policies::seconds(10);  ///< to send a complete request
  policies::usec idle_timeout = policies::seconds(60);     ///< keep-alive between requests
  policies::usec write_timeout = policies::seconds(30);    ///< to take an answer
  /// On SIGTERM, how long holders get to release their leases (0: no wait).
  policies::usec drain_timeout = policies::seconds(30);
  /// Where the node logs (docs/SERVE.md, "Logs"): "off", "stderr" or a file
  /// path (made absolute against the config file's directory).
  std::string access_log = "off";  ///< one line per HTTP request
  std::string error_log = "stderr";  ///< what the node says, with levels
  std::string log_level = "info";  ///< the error log's least level: debug, info, warn, error
  /// Distinct model and product names one account may use at once.
  std::size_t max_names_per_account = 64;
  /// After start, recover leases this long (docs/SERVE.md, "Restarts and
  /// recovery"): 0 = off; "ttl" (the default) resolves to lease_ttl.
  policies::usec recovery = -1;
  std::string recovery_spec = "ttl";  ///< as the config wrote it
  std::vector<served_plan> plans;
  std::vector<served_account> accounts;
  actors::cluster::cluster_config cluster;  ///< [cluster]; enabled false without one
  actors::gateway::gateway_config gateway;  ///< [gateway]; enabled false without one
};

/// Reads and checks `path`, building every plan. Throws policies::input_error
/// naming the file, line and setting at fault.
/// `node` (usher serve --node) names this node among [cluster] peers.
/// `keys_required`: every account needs a `key` (a live node authenticates
/// by it); usher cluster-sim, whose clients name accounts, passes false.
node_config read_node_config(const std::string& path, const std::string& node = "",
                             bool keys_required = true);
/// Each account's limit (the units of its account pool, or of each of its
/// pools per model or product; -1: none), by name.
std::map<std::string, std::int64_t> account_limits(const node_config& c);

/// The same from a file read already (usher cluster-sim adds lines to one).
node_config node_config_from(const traces::ini_file& file, const std::string& node = "",
                             bool keys_required = true);

}  // namespace usher::tools
