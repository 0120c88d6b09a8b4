#include "tools/serve_actors.hpp"

#include <algorithm>
#include <set>

namespace usher::tools {

std::vector<serve_actors::group> serve_actors::groups_of(const node_config& node) {
  std::vector<group> out;
  for (auto& p : node.plans) {
    if (p.plan->has_shared_gates()) {
      out.push_back(group{p.plan, p.accounts, "plan:" + p.spec});
      continue;
    }
    for (auto& a : p.accounts) out.push_back(group{p.plan, {a}, "account:" + a});
  }
  return out;
}

actors::admission_actor serve_actors::spawn(const group& g, policies::usec recovery) {
  actors::admission_actor_config c;
  c.plan = g.plan;
  c.accounts = g.accounts;
  c.lease_ttl = lease_ttl_;
  c.max_names_per_account = max_names_;
  c.recovery = recovery;
  c.epoch = epoch_;
  c.epoch_unix_ms = epoch_unix_ms_;
  c.window = window_;
  c.replicate = replicate_;
  if (seed_ != 0) c.seed = seed_ + all_.size();
  auto a = actors::spawn_admission_actor(sys_, std::move(c));
  all_.push_back(a);
  for (auto& n : g.accounts) {
    actor_of_[n] = a;
    members_[a].push_back(n);
  }
  return a;
}

serve_actors::serve_actors(caf::actor_system& sys, const node_config& node,
                           caf::actor_clock::time_point epoch, std::int64_t epoch_unix_ms,
                           std::shared_ptr<const actors::cluster::grant_window> window,
                           std::uint64_t seed)
    : sys_(sys),
      epoch_(epoch),
      epoch_unix_ms_(epoch_unix_ms),
      lease_ttl_(node.lease_ttl),
      max_names_(node.max_names_per_account),
      window_(std::move(window)),
      seed_(seed),
      replicate_(node.cluster.enabled && node.cluster.replicas == 1) {
  // In a cluster the cluster actor starts each group, recovering or not.
  for (auto& g : groups_of(node)) spawn(g, window_ ? 0 : node.recovery);
}

std::vector<actors::cluster::served_group> serve_actors::placement_groups(
    const node_config& node) const {
  std::vector<actors::cluster::served_group> out;
  for (auto& g : groups_of(node))
    out.push_back(actors::cluster::served_group{g.key, g.accounts, actor_of_.at(g.accounts.front())});
  return out;
}

std::unordered_map<std::string, actors::http::account_route> serve_actors::keys(
    const node_config& node) const {
  std::unordered_map<std::string, actors::http::account_route> out;
  for (auto& acc : node.accounts)
    for (std::size_t i = 0; i < acc.key_hashes.size(); ++i)
      out[acc.key_hashes[i]] =
          actors::http::account_route{acc.name, actor_of_.at(acc.name), static_cast<policies::id>(i)};
  return out;
}

std::string serve_actors::reload(const node_config& next) {
  std::set<std::string> configured;
  for (auto& acc : next.accounts) configured.insert(acc.name);
  auto groups = groups_of(next);
  // Check everything first: a refused reload changes nothing.
  std::vector<const actors::admission_actor*> home(groups.size(), nullptr);
  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto& g = groups[i];
    for (auto& n : g.accounts) {
      auto a = actor_of_.find(n);
      if (a == actor_of_.end()) continue;  // a new account
      if (home[i] && *home[i] != a->second)
        return "accounts " + members_[*home[i]].front() + " and " + n +
               " would share an admission actor (their plan has a shared gate such as "
               "model_capacity) but run on two now";
      home[i] = &a->second;
    }
    if (!home[i]) continue;
    // Every account its actor holds that is still configured must be here.
    for (auto& m : members_.at(*home[i]))
      if (configured.count(m) && std::find(g.accounts.begin(), g.accounts.end(), m) == g.accounts.end())
        return "accounts " + m + " and " + g.accounts.front() +
               " share an admission actor (a shared gate such as model_capacity) and would part";
  }
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (!home[i]) {
      spawn(groups[i], 0);  // new accounts: nothing granted before to recover
      continue;
    }
    auto a = *home[i];
    for (auto& n : groups[i].accounts)
      if (!actor_of_.count(n)) {
        actor_of_[n] = a;
        members_[a].push_back(n);
      }
    caf::anon_send(a, actors::plan_update{groups[i].plan, groups[i].accounts});
  }
  return "";
}

std::string node_changes(const node_config& now, const node_config& next) {
  std::string out;
  auto differs = [&](bool changed, const char* key) {
    if (changed) out += std::string(out.empty() ? "" : ", ") + key;
  };
  differs(now.host != next.host || now.port != next.port, "listen");
  differs(now.threads != next.threads, "threads");
  differs(now.io_threads != next.io_threads, "io_threads");
  differs(now.lease_ttl != next.lease_ttl, "lease_ttl");
  differs(now.max_body != next.max_body, "max_body");
  differs(now.metrics_key_hash != next.metrics_key_hash, "metrics_key");
  differs(now.metrics_accounts != next.metrics_accounts, "metrics_accounts");
  differs(now.max_names_per_account != next.max_names_per_account, "max_names_per_account");
  differs(now.recovery_spec != next.recovery_spec, "recovery");
  differs(now.max_connections != next.max_connections, "max_connections");
  differs(now.request_timeout != next.request_timeout, "request_timeout");
  differs(now.idle_timeout != next.idle_timeout, "idle_timeout");
  differs(now.write_timeout != next.write_timeout, "write_timeout");
  differs(now.drain_timeout != next.drain_timeout, "drain_timeout");
  // The gateway's section is read at start only (docs/GATEWAY.md).
  auto upstreams = [](const actors::gateway::gateway_config& g) {
    std::string text = g.fallback ? g.fallback->text : "";
    for (auto& [model, to] : g.by_model) text += "\n" + model + "=" + to.text;
    return text;
  };
  const auto &g = now.gateway, &h = next.gateway;
  differs(g.enabled != h.enabled || upstreams(g) != upstreams(h) ||
              g.upstream_key != h.upstream_key || g.connect_timeout != h.connect_timeout ||
              g.response_timeout != h.response_timeout || g.idle_timeout != h.idle_timeout ||
              g.max_body != h.max_body || g.pool_size != h.pool_size,
          "[gateway]");
  return out;
}

std::string cluster_reload_refusal(const node_config& now, const node_config& next) {
  const auto &a = now.cluster, &b = next.cluster;
  std::string changed;
  auto differs = [&](bool d, const char* key) {
    if (d) changed += std::string(changed.empty() ? "" : ", ") + key;
  };
  differs(a.name != b.name, "name");
  differs(a.listen_host != b.listen_host || a.listen_port != b.listen_port, "listen");
  bool peers = a.peers.size() != b.peers.size();
  for (std::size_t i = 0; !peers && i < a.peers.size(); ++i)
    peers = a.peers[i].name != b.peers[i].name || a.peers[i].host != b.peers[i].host ||
            a.peers[i].port != b.peers[i].port;
  differs(peers, "peers");
  differs(a.replicas != b.replicas, "replicas");
  differs(a.heartbeat != b.heartbeat, "heartbeat");
  differs(a.failure_timeout != b.failure_timeout, "failure_timeout");
  if (!changed.empty()) return "[cluster] changes need a restart of this member: " + changed;
  // Accounts may be added (a group of their own, or one sharing a gate);
  // each account there now stays in the group it is in. A group whose
  // accounts part, or that goes, would leave members deciding a group the
  // others no longer have.
  std::map<std::string, std::string> key_of;  // next: account -> its group's key
  for (auto& g : serve_actors::groups_of(next))
    for (auto& a : g.accounts) key_of[a] = g.key;
  for (auto& g : serve_actors::groups_of(now))
    for (auto& a : g.accounts) {
      auto i = key_of.find(a);
      if (i == key_of.end())
        return "account " + a + " removed; a cluster applies that only when every member "
               "restarts (docs/CLUSTER.md, \"Configuration changes\": remove its keys instead)";
      if (i->second != g.key)
        return "account " + a + " moved " + (g.key.rfind("plan:", 0) == 0 ? "out of" : "into") +
               " a group sharing a gate; a cluster applies that only when every member restarts "
               "(docs/CLUSTER.md, \"Configuration changes\")";
    }
  return "";
}

bool cluster_reloads::read(const node_config& next) {
  const auto& digest = next.cluster.limits_digest;
  read_.erase(std::remove_if(read_.begin(), read_.end(),
                             [&](auto& c) { return c.cluster.limits_digest == digest; }),
              read_.end());
  if (digest == applied_) return false;
  read_.push_back(next);
  if (read_.size() > 2) read_.pop_front();
  return true;
}

std::optional<node_config> cluster_reloads::switched(const std::string& digest) {
  auto it = std::find_if(read_.begin(), read_.end(),
                         [&](auto& c) { return c.cluster.limits_digest == digest; });
  if (it == read_.end()) return std::nullopt;
  std::optional<node_config> out(std::move(*it));
  read_.erase(read_.begin(), it + 1);  // it, and what it replaced
  applied_ = digest;
  return out;
}

}  // namespace usher::tools
