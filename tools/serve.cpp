/// `usher serve --config FILE`: the live admission node. Reads and checks the
/// node config (tools/serve_config.hpp; a bad one exits 2 naming file, line
/// and setting), spawns the admission actors under CAF's real-time scheduler,
/// and serves HTTP and WebSocket (actors/http/edge.hpp) until SIGINT or
/// SIGTERM, which drain it first (drain_timeout). It prints one line when it
/// listens:
///   usher serve: listening on 127.0.0.1:8080 (3 accounts, 3 admission actors,
///   960 connections at most)

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <caf/io/middleman.hpp>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <sstream>
#include <map>
#include <mutex>
#include <optional>
#include <spdlog/logger.h>
#include <thread>

#include "actors/admission_actor.hpp"
#include "actors/cluster/cluster_node.hpp"
#include "actors/cluster/placement.hpp"
#include "actors/http/edge.hpp"
#include "policies/input_error.hpp"
#include "tools/build_info.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/node_logs.hpp"
#include "tools/serve_actors.hpp"
#include "tools/serve_config.hpp"
#include "tools/systemd_notify.hpp"

namespace usher::tools {

namespace po = boost::program_options;

namespace {

// What a reload needs, shared by the signal thread (SIGHUP) and, in a
// cluster, the cluster actor's thread (the switch to limits every member has
// read: docs/CLUSTER.md, "Configuration changes").
struct reloads {
  std::mutex mutex;
  /// Applies a config that passed its checks: the admission actors' plans
  /// and the edge's keys. Set once the edge runs; cleared before it ends.
  std::function<std::string(const node_config&)> apply;
  /// Cluster: the account groups of a config applied, with their actors
  /// (what the cluster actor decides from then on). Set with `apply`.
  std::function<std::vector<actors::cluster::served_group>(const node_config&)> placement;
  /// Cluster: the configs read, to apply with the other members.
  cluster_reloads cluster;
  /// Cluster: the config applied last (at the start, then at each switch):
  /// what a reload may add accounts to but not remove them from.
  std::optional<node_config> applied;
};

// SIGHUP: reads the config again and applies its accounts, keys and plans
// (tools/serve_actors.hpp). A config that does not read, or would need a
// restart, is refused and the running one stays. A cluster member applies
// new limits only together with the other members: it proposes them, and
// the cluster actor says when every member up has read them (switched()).
void reload(const std::string& path, const std::string& node_name, const node_config& started,
            reloads& state, const caf::actor& cluster, spdlog::logger& log) {
  try {
    auto next = read_node_config(path, node_name);
    if (next.cluster.enabled != started.cluster.enabled) {
      log.error("reload refused: {}: a [cluster] section {} needs a restart; the running config "
                "stays",
                path, next.cluster.enabled ? "added" : "removed");
      return;
    }
    auto changes = node_changes(started, next);
    std::lock_guard<std::mutex> guard(state.mutex);
    if (!next.cluster.enabled) {
      if (auto why = state.apply(next); !why.empty()) {
        log.error("reload refused: {}: restart the node to apply it; the running config stays",
                  why);
        return;
      }
    } else {
      if (auto why = cluster_reload_refusal(state.applied ? *state.applied : started, next); !why.empty()) {
        log.error("reload refused: {}: {}; the running config stays", path, why);
        return;
      }
      const auto& digest = next.cluster.limits_digest;
      bool new_limits = state.cluster.read(next);
      if (new_limits)
        log.info("reload of {}: new limits (digest {}); the cluster applies them once every "
                 "member up has read them",
                 path, digest.substr(0, 12));
      // The digest applied now withdraws what an earlier reload proposed.
      caf::anon_send(cluster, actors::cluster::propose_limits_atom::value, digest);
      if (new_limits) {
        if (!changes.empty())
          log.warn("[node] and [gateway] changes need a restart and were not applied: {}", changes);
        return;
      }
    }
    if (changes.empty())
      log.info("reloaded {} ({} accounts, {} plans)", path, next.accounts.size(), next.plans.size());
    else
      log.warn("reloaded {} ({} accounts, {} plans); [node] and [gateway] changes need a "
               "restart and were not applied: {}",
               path, next.accounts.size(), next.plans.size(), changes);
  } catch (const policies::input_error& e) {
    log.error("reload refused: {}; the running config stays", e.what());
  }
}

// The cluster actor switched to limits a reload proposed: apply them. Its
// account groups, for the cluster actor (accounts the reload added).
std::vector<actors::cluster::served_group> switched(const std::string& digest, reloads& state,
                                                    spdlog::logger& log) {
  std::lock_guard<std::mutex> guard(state.mutex);
  if (!state.apply) return {};
  auto read = state.cluster.switched(digest);
  if (!read) return {};
  if (auto why = state.apply(*read); !why.empty()) {
    // Checked at the reload (cluster_reload_refusal): not expected.
    log.error("cluster: cannot apply the limits every member switched to: {}", why);
    return {};
  }
  log.info("reloaded limits applied with the cluster ({} accounts, {} plans)",
           read->accounts.size(), read->plans.size());
  auto groups = state.placement(*read);
  state.applied = std::move(*read);
  return groups;
}

// What --check says of a [cluster] section: the members, what a majority
// is, the digest every node must share, and who owns how many accounts.
void print_cluster(const node_config& c, std::ostream& out) {
  const auto& cl = c.cluster;
  auto members = cl.member_names();
  out << "cluster: this node is " << cl.name << " (CAF port " << cl.listen_host << ":"
      << cl.listen_port << "), " << members.size() << " members, a majority is "
      << cl.majority() << ", replicas = " << cl.replicas << "\n";
  if (members.size() == 2)
    out << "cluster: warning: two members have no majority once one is lost: the other stops "
           "granting until it is back (three or more members survive a loss)\n";
  out << "cluster: limits digest " << cl.limits_digest << " (the same on every member)\n";
  std::map<std::string, std::size_t> owned;
  // Accounts sharing a gate are one group with one owner: the gate stays one local call.
  for (auto& g : serve_actors::groups_of(c))
    owned[actors::cluster::owner_of(g.key, members)] += g.accounts.size();
  for (auto& m : members)
    out << "cluster: " << m << " owns " << owned[m] << " of " << c.accounts.size() << " accounts\n";
}

// What --check and the start say of a [gateway] section: where each model
// goes (docs/GATEWAY.md).
void print_gateway(const actors::gateway::gateway_config& g, std::ostream& out) {
  out << "gateway: ";
  if (g.fallback) out << "every model to " << g.fallback->text;
  else out << "only the models listed";
  for (auto& [model, to] : g.by_model) out << "; " << model << " to " << to.text;
  out << (g.upstream_key.empty() ? "; no key upstream" : "; upstream_key sent upstream") << "\n";
  if (g.service_tiers.empty()) return;
  out << "gateway: service tiers";
  const char* sep = " ";
  for (auto& [tier, level] : g.service_tiers) {
    out << sep << tier << " = priority " << level;
    sep = ", ";
  }
  out << "\n";
}

// Every account request of a cluster member goes through the cluster actor:
// here or to the owner.
void route_through_cluster(std::unordered_map<std::string, actors::http::account_route>& keys,
                           const caf::actor& cluster) {
  auto via = caf::actor_cast<actors::admission_actor>(cluster);
  for (auto& [key, route] : keys) route.actor = via;
}

// A cluster member (docs/CLUSTER.md): spawns and publishes the cluster
// actor, and routes every key through it. Returns "" or why it cannot.
std::string start_cluster(caf::actor_system& sys, const node_config& node, serve_actors& admission,
                          std::shared_ptr<actors::cluster::grant_window> window,
                          caf::actor_clock::time_point epoch,
                          std::shared_ptr<spdlog::logger> log, std::shared_ptr<reloads> state,
                          actors::http::edge_config& ec) {
  const auto& cl = node.cluster;
  actors::cluster::cluster_node_config cc;
  cc.cluster = cl;
  cc.groups = admission.placement_groups(node);
  cc.window = std::move(window);
  cc.stats = std::make_shared<actors::cluster::cluster_stats>();
  cc.lease_ttl = node.lease_ttl;
  cc.start_recovery_until = node.recovery;
  cc.fresh_recovery = node.recovery > 0 ? node.recovery + cl.failure_timeout : 0;
  cc.epoch = epoch;
  cc.log = [log](bool error, const std::string& text) {
    if (error) log->warn("{}", text);
    else log->info("{}", text);
  };
  state->cluster = cluster_reloads(cl.limits_digest);
  cc.on_limits = [state, log](const std::string& digest) { return switched(digest, *state, *log); };
  auto stats = cc.stats;
  auto actor = actors::cluster::spawn_cluster_node(sys, std::move(cc));
  if (auto why = actors::cluster::publish_cluster_node(sys, actor, cl); !why.empty()) {
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    return why;
  }
  auto members = cl.member_names();
  auto self = std::find(members.begin(), members.end(), cl.name) - members.begin();
  if (members.size() == 2)
    log->warn("cluster: two members have no majority once one is lost: the other stops granting "
              "until it is back (three or more members survive a loss)");
  log->info("cluster: member {} of {} listening on {}:{} for its peers; a majority is {}",
            cl.name, members.size(), cl.listen_host, cl.listen_port, cl.majority());
  ec.cluster = actor;
  route_through_cluster(ec.keys, actor);
  ec.cluster_stats = stats;
  ec.not_ready = [stats]() -> const char* { return stats->majority ? nullptr : "no_majority"; };
  // Lease, ticket and request ids are unique across the cluster.
  ec.id_base = static_cast<std::uint64_t>(self + 1) << 48;
  return "";
}

// After a drain: the handoffs of a member that leaves were sent when its
// leases left; waits until the receivers have them, so that they are not cut
// off with the process: up to twice failure_timeout, and never longer than
// drain_timeout (0: no wait; what is not handed off is taken over).
void wait_for_handoffs(const actors::cluster::cluster_stats& stats, const node_config& node,
                       spdlog::logger& log) {
  auto budget = std::min(2 * node.cluster.failure_timeout, node.drain_timeout);
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(budget);
  while (stats.groups_in_hand > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (stats.groups_in_hand > 0)
    log.warn("cluster: stopping with {} account groups not handed off: their new owners take them "
             "over (one lease TTL of recovery)",
             stats.groups_in_hand.load());
  else
    log.info("cluster: every account handed to the other members");
}

// Says when the recovery window after start ends (unless the node stops
// first): one line, from a thread of its own that only waits.
class recovery_notice {
 public:
  recovery_notice(std::chrono::steady_clock::time_point end, spdlog::logger& log)
      : thread_([this, end, &log] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!wake_.wait_until(lock, end, [this] { return stopped_; }))
            log.info("recovery over: new grants resume");
        }) {}
  ~recovery_notice() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  std::thread thread_;  ///< last: it starts once the members above exist
};

}  // namespace

int serve_command(const std::vector<std::string>& args) {
  std::string config, node_name;
  bool check = false;
  po::options_description desc("usher serve --config FILE [--node NAME] [--check]");
  desc.add_options()("help,h", "show this help")(
      "config", po::value(&config)->required(),
      "node config: listen address, accounts, plans, API key hashes (docs/SERVE.md)")(
      "node", po::value(&node_name),
      "this node's name among the config's [cluster] peers (docs/CLUSTER.md)")(
      "check", po::bool_switch(&check), "check the config and exit (0: it is valid)");
  po::variables_map vm;
  if (auto done = parse_options("serve", args, desc, vm)) return *done;

  node_config node;
  try {
    node = read_node_config(config, node_name);
  } catch (const policies::input_error& e) {
    std::cerr << "usher serve: " << e.what() << "\n";
    return exit_bad_input;
  }
  if (check) {
    std::cout << "usher serve: " << config << " is valid (" << node.accounts.size()
              << " accounts, " << node.plans.size() << " plans)\n";
    if (node.cluster.enabled) print_cluster(node, std::cout);
    if (node.gateway.enabled) print_gateway(node.gateway, std::cout);
    return exit_ok;
  }
  node_logs logs;
  try {
    logs = open_node_logs(node);
  } catch (const std::exception& e) {
    std::cerr << "usher serve: " << config << ": " << e.what() << "\n";
    return exit_bad_input;
  }
  auto& log = *logs.error;

  // SIGINT, SIGTERM and SIGHUP are taken by one thread (below), never by a
  // worker. SIGHUP reloads the config.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  sigaddset(&stop_signals, SIGUSR1);  // reopen the log files (logrotate)
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  caf::actor_system_config cfg;
  actors::add_message_types(cfg);
  if (node.cluster.enabled) {
    actors::cluster::add_cluster_message_types(cfg);
    cfg.load<caf::io::middleman>();
  }
  cfg.set("scheduler.max-threads", node.threads);
  // Work sharing: an idle worker waits on a condition variable and wakes the
  // moment a job comes (an actor woken by its timer, or by a message from a
  // thread the I/O unit does not run). Work stealing's idle workers poll,
  // sleeping up to 10 ms in between: an admission actor woken by its timer
  // then stalled every request queued behind it for that long (p99 spikes
  // of 7-35 ms below saturation). Most turns run on the I/O thread anyway.
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};

  auto epoch = sys.clock().now();
  auto recovery_end = std::chrono::steady_clock::now() + std::chrono::microseconds(node.recovery);
  auto unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  actors::http::edge_config ec;
  ec.host = node.host;
  ec.port = node.port;
  ec.max_body = node.max_body;
  ec.metrics_key_hash = node.metrics_key_hash;
  ec.metrics_accounts = node.metrics_accounts;
  ec.io_threads = node.io_threads;
  ec.max_connections = node.max_connections;
  ec.error_log = logs.error;
  ec.access_log = logs.access;
  ec.version = build_version();
  ec.commit = build_commit();
  ec.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::microseconds(node.request_timeout));
  ec.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::microseconds(node.idle_timeout));
  ec.write_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::microseconds(node.write_timeout));
  if (node.max_connections > actors::http::default_max_connections())
    log.warn("max_connections = {} is more than the open-file limit leaves room for ({}): raise "
             "it (ulimit -n, LimitNOFILE=) or accepts will fail and shed idle connections",
             node.max_connections, actors::http::default_max_connections());
  for (auto& served : node.plans)
    if (served.plan->has_backend())
      log.info("plan {}: backend.* keys model servers for simulations only; live, the real "
               "servers set how long a request takes",
               served.spec);
  if (node.gateway.enabled) {
    ec.gateway = std::make_shared<const actors::gateway::gateway_config>(node.gateway);
    std::ostringstream routes;
    print_gateway(node.gateway, routes);
    log.info("{}", routes.str().substr(0, routes.str().size() - 1));
  }
  std::shared_ptr<actors::cluster::grant_window> window;
  if (node.cluster.enabled) window = std::make_shared<actors::cluster::grant_window>();
  serve_actors admission(sys, node, epoch, unix_ms, window);
  ec.actors = admission.all();
  ec.keys = admission.keys(node);
  caf::actor cluster;
  std::shared_ptr<const actors::cluster::cluster_stats> cluster_stats;
  auto reload_state = std::make_shared<reloads>();
  if (node.cluster.enabled) {
    if (auto why = start_cluster(sys, node, admission, window, epoch, logs.error, reload_state, ec);
        !why.empty()) {
      log.error("{}", why);
      for (auto& a : admission.all()) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      return exit_failure;
    }
    cluster = ec.cluster;
    cluster_stats = ec.cluster_stats;
  }

  int code = exit_ok;
  try {
    auto n_actors = ec.actors.size();
    actors::http::edge edge(sys, std::move(ec));
    {
      std::lock_guard<std::mutex> guard(reload_state->mutex);
      reload_state->apply = [&admission, &edge, cluster](const node_config& next) {
        if (auto why = admission.reload(next); !why.empty()) return why;
        auto keys = admission.keys(next);
        if (cluster) route_through_cluster(keys, cluster);
        edge.replace_routes(std::move(keys), admission.all());
        return std::string();
      };
      reload_state->placement = [&admission](const node_config& next) {
        return admission.placement_groups(next);
      };
    }
    // Before the edge ends: a cluster's switch applies nothing after that.
    struct forget_apply {
      reloads& state;
      ~forget_apply() {
        std::lock_guard<std::mutex> guard(state.mutex);
        state.apply = nullptr;
        state.placement = nullptr;
      }
    } forget{*reload_state};
    std::cout << "usher serve: listening on " << node.host << ":" << edge.port() << " ("
              << node.accounts.size() << " accounts, " << n_actors << " admission actors, "
              << edge.max_connections() << " connections at most)" << std::endl;
    // Scripts wait for that line on stdout; a log file gets it too.
    if (node.error_log != "stderr")
      log.info("listening on {}:{} ({} accounts, {} admission actors, {} connections at most)",
               node.host, edge.port(), node.accounts.size(), n_actors, edge.max_connections());
    notify_ready("listening on " + node.host + ":" + std::to_string(edge.port()));
    // Leases granted before a restart may still be held: until the window
    // ends only their renewals (adopted) and releases are taken.
    std::optional<recovery_notice> recovering;
    if (node.recovery > 0) {
      log.info("recovering leases for {} s (recovery = {}): new grants wait",
               policies::format_seconds(node.recovery), node.recovery_spec);
      recovering.emplace(recovery_end, log);
    }
    // The first SIGTERM or SIGINT drains (docs/SERVE.md, "Stopping and
    // draining"); a second one stops at once.
    std::atomic<bool> ran{false};
    std::thread waiter([&] {
      int sig = 0;
      bool draining = false;
      while (sigwait(&stop_signals, &sig) == 0 && !ran) {
        if (sig == SIGUSR1) {
          auto errors = logs.reopen();
          for (auto& e : errors) log.error("SIGUSR1: cannot reopen {}; still writing where it was", e);
          if (errors.empty()) log.info("SIGUSR1: log files reopened");
          continue;
        }
        if (sig == SIGHUP) {
          reload(config, node_name, node, *reload_state, cluster, log);
          continue;
        }
        if (draining) {
          log.warn("{} again: stopping now", sig == SIGINT ? "SIGINT" : "SIGTERM");
          break;
        }
        draining = true;
        notify_stopping();
        log.info("{}: draining: no new connections or admissions, queued requests answered 503; "
                 "waiting up to {} s (drain_timeout) for leases to be released; signal again to "
                 "stop now",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", policies::format_seconds(node.drain_timeout));
        // A cluster member hands its accounts to the others first: their
        // leases move with them, so the drain below ends once they left.
        if (cluster) caf::anon_send(cluster, actors::cluster::leave_atom::value);
        edge.drain(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::microseconds(node.drain_timeout)));
      }
      edge.stop();
    });
    edge.run();
    ran = true;
    recovering.reset();
    if (auto left = edge.leases_left(); left > 0)
      log.warn("drain_timeout passed with {} leases held: stopping anyway", left);
    else if (left == 0)
      log.info("drained: no lease held");
    if (cluster && edge.leases_left() >= 0) wait_for_handoffs(*cluster_stats, node, log);
    // Stopped: every held request is answered 503 by its actor, then the
    // actors end; the edge (and its io_context) outlive them.
    for (auto& a : admission.all()) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (cluster) caf::anon_send_exit(cluster, caf::exit_reason::user_shutdown);
    sys.await_all_actors_done();
    if (waiter.joinable()) {
      pthread_kill(waiter.native_handle(), SIGTERM);  // wakes sigwait if stop came otherwise
      waiter.join();
    }
    log.info("stopped");
  } catch (const std::exception& e) {
    log.error("{}", e.what());
    for (auto& a : admission.all()) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (cluster) caf::anon_send_exit(cluster, caf::exit_reason::user_shutdown);
    code = exit_failure;
  }
  return code;
}

}  // namespace usher::tools
