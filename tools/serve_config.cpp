#include "tools/serve_config.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

#include "actors/http/key_hash.hpp"
#include "policies/input_error.hpp"
#include "traces/gate_library.hpp"
#include "traces/ini_file.hpp"
#include "traces/plan_file.hpp"

namespace usher::tools {

namespace fs = std::filesystem;
using policies::input_error;
using traces::ini_entry;

namespace {

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::int64_t parse_int(const ini_entry& e, std::int64_t min, std::int64_t max) {
  std::int64_t v = 0;
  auto* end = e.value.data() + e.value.size();
  auto r = std::from_chars(e.value.data(), end, v);
  if (e.value.empty() || r.ec != std::errc() || r.ptr != end || v < min || v > max)
    throw input_error::at(e.where, 0, e.key,
                          "expected an integer from " + std::to_string(min) + " to " +
                              std::to_string(max) + ", got " + policies::quoted(e.value));
  return v;
}

void parse_listen(const ini_entry& e, node_config& c) {
  auto colon = e.value.rfind(':');
  std::string host = colon == std::string::npos ? "" : e.value.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty())
    throw input_error::at(e.where, 0, e.key,
                          "expected HOST:PORT such as 127.0.0.1:8080, got " + policies::quoted(e.value));
  ini_entry port = e;
  port.value = e.value.substr(colon + 1);
  c.host = host;
  c.port = static_cast<std::uint16_t>(parse_int(port, 0, 65535));
}

// "off" (access log only), "stderr", or a file, relative to the config's directory.
std::string log_target(const ini_entry& e, const std::string& config_path, bool may_be_off) {
  if (e.value == "stderr" || (may_be_off && e.value == "off")) return e.value;
  if (e.value.empty() || e.value == "off")
    throw input_error::at(e.where, 0, e.key,
                          std::string("expected ") + (may_be_off ? "off, " : "") +
                              "stderr or a file path, got " + policies::quoted(e.value));
  fs::path file = e.value;
  if (file.is_relative()) file = fs::absolute(fs::path(config_path).parent_path() / file);
  return file.lexically_normal().string();
}

void node_key(const ini_entry& e, node_config& c, const std::string& config_path) {
  auto key = e.key.substr(std::string("node.").size());
  if (key == "listen") {
    parse_listen(e, c);
  } else if (key == "threads") {
    c.threads = static_cast<std::size_t>(parse_int(e, 1, 64));
  } else if (key == "io_threads") {
    c.io_threads = static_cast<std::size_t>(parse_int(e, 1, 64));
  } else if (key == "lease_ttl") {
    policies::usec t = 0;
    bool unit_error = false;
    if (!policies::parse_duration(e.value, t, unit_error) || t < 1000)
      throw input_error::at(e.where, 0, e.key,
                            "expected a duration of at least 1ms such as 30s, got " + policies::quoted(e.value));
    c.lease_ttl = t;
  } else if (key == "request_timeout" || key == "idle_timeout" || key == "write_timeout") {
    policies::usec t = 0;
    bool unit_error = false;
    if (!policies::parse_duration(e.value, t, unit_error) || t < 1000 ||
        t > policies::seconds(86400))
      throw input_error::at(e.where, 0, e.key,
                            "expected a duration from 1ms to 24h such as 10s, got " +
                                policies::quoted(e.value));
    auto& timeout = key == "request_timeout" ? c.request_timeout
                    : key == "idle_timeout"    ? c.idle_timeout
                                               : c.write_timeout;
    timeout = t;
  } else if (key == "drain_timeout") {
    policies::usec t = 0;
    bool unit_error = false;
    if (!policies::parse_duration(e.value, t, unit_error) || t < 0 || t > policies::seconds(86400))
      throw input_error::at(e.where, 0, e.key,
                            "expected a duration from 0 to 24h such as 30s, got " +
                                policies::quoted(e.value));
    c.drain_timeout = t;
  } else if (key == "max_connections") {
    c.max_connections = static_cast<std::size_t>(parse_int(e, 1, 1 << 24));
  } else if (key == "max_body") {
    c.max_body = static_cast<std::size_t>(parse_int(e, 64, 16 << 20));
  } else if (key == "metrics_key") {
    if (!actors::http::is_sha256_hex(e.value))
      throw input_error::at(e.where, 0, e.key,
                            "expected a SHA-256 hex digest (usher key hash KEY), got " +
                                policies::quoted(e.value));
    c.metrics_key_hash = e.value;
    std::transform(c.metrics_key_hash.begin(), c.metrics_key_hash.end(), c.metrics_key_hash.begin(),
                   ::tolower);
  } else if (key == "metrics_accounts") {
    c.metrics_accounts = static_cast<std::size_t>(parse_int(e, 0, 10000));
  } else if (key == "max_names_per_account") {
    c.max_names_per_account = static_cast<std::size_t>(parse_int(e, 1, 65536));
  } else if (key == "recovery") {
    policies::usec t = 0;
    bool unit_error = false;
    if (e.value == "ttl") {
      c.recovery = -1;
    } else if (e.value == "off") {
      c.recovery = 0;
    } else if (policies::parse_duration(e.value, t, unit_error) && t >= 0) {
      c.recovery = t;
    } else {
      throw input_error::at(e.where, 0, e.key,
                            "expected ttl (one lease_ttl), off, or a duration such as 30s, got " +
                                policies::quoted(e.value));
    }
    c.recovery_spec = e.value;
  } else if (key == "access_log") {
    c.access_log = log_target(e, config_path, true);
  } else if (key == "error_log") {
    c.error_log = log_target(e, config_path, false);
  } else if (key == "log_level") {
    if (e.value != "debug" && e.value != "info" && e.value != "warn" && e.value != "error")
      throw input_error::at(e.where, 0, e.key,
                            "expected debug, info, warn or error, got " + policies::quoted(e.value));
    c.log_level = e.value;
  } else {
    throw input_error::at(e.where, 0, e.key,
                          "unknown key (node keys: listen, threads, io_threads, lease_ttl, max_body, "
                          "metrics_key, metrics_accounts, max_names_per_account, recovery, "
                          "max_connections, request_timeout, idle_timeout, write_timeout, "
                          "drain_timeout, access_log, error_log, log_level)");
  }
}

void cluster_key(const ini_entry& e, actors::cluster::cluster_config& c) {
  auto key = e.key.substr(std::string("cluster.").size());
  auto duration = [&](const char* example) {
    policies::usec t = 0;
    bool unit_error = false;
    if (!policies::parse_duration(e.value, t, unit_error) || t < 1000 || t > policies::seconds(3600))
      throw input_error::at(e.where, 0, e.key,
                            std::string("expected a duration from 1ms to 1h such as ") + example +
                                ", got " + policies::quoted(e.value));
    return t;
  };
  if (key == "name") {
    c.name = e.value;
  } else if (key == "listen") {
    if (!actors::cluster::parse_host_port(e.value, c.listen_host, c.listen_port))
      throw input_error::at(e.where, 0, e.key,
                            "expected HOST:PORT such as 127.0.0.1:7401, got " + policies::quoted(e.value));
  } else if (key == "peers") {
    std::string error;
    if (!actors::cluster::parse_peers(e.value, c.peers, error))
      throw input_error::at(e.where, 0, e.key, error);
  } else if (key == "replicas") {
    c.replicas = static_cast<int>(parse_int(e, 0, 1));
  } else if (key == "heartbeat") {
    c.heartbeat = duration("500ms");
  } else if (key == "failure_timeout") {
    c.failure_timeout = duration("2s");
  } else {
    throw input_error::at(e.where, 0, e.key,
                          "unknown key (cluster keys: name, listen, peers, replicas, heartbeat, "
                          "failure_timeout)");
  }
}

void gateway_key(const ini_entry& e, actors::gateway::gateway_config& g) {
  auto key = e.key.substr(std::string("gateway.").size());
  auto duration = [&](const char* example) {
    policies::usec t = 0;
    bool unit_error = false;
    if (!policies::parse_duration(e.value, t, unit_error) || t < 1000 || t > policies::seconds(86400))
      throw input_error::at(e.where, 0, e.key,
                            std::string("expected a duration from 1ms to 24h such as ") + example +
                                ", got " + policies::quoted(e.value));
    return std::chrono::milliseconds(t / 1000);
  };
  auto an_upstream = [&] {
    actors::gateway::upstream u;
    if (auto error = actors::gateway::parse_upstream(e.value, u); !error.empty())
      throw input_error::at(e.where, 0, e.key, error);
    return u;
  };
  if (key == "upstream") {
    g.fallback = an_upstream();
  } else if (key.rfind("upstream.", 0) == 0) {
    auto model = key.substr(std::string("upstream.").size());
    if (model.empty() || model.size() > 256)
      throw input_error::at(e.where, 0, e.key, "expected upstream.MODEL = http://HOST:PORT");
    g.by_model[model] = an_upstream();
  } else if (key == "upstream_key") {
    if (e.value.find_first_of("\r\n") != std::string::npos)
      throw input_error::at(e.where, 0, e.key, "a key has no line breaks");
    g.upstream_key = e.value;
  } else if (key == "connect_timeout") {
    g.connect_timeout = duration("5s");
  } else if (key == "response_timeout") {
    g.response_timeout = duration("10m");
  } else if (key == "idle_timeout") {
    g.idle_timeout = duration("60s");
  } else if (key == "max_body") {
    g.max_body = static_cast<std::size_t>(parse_int(e, 64, std::int64_t{1} << 30));
  } else if (key == "pool_size") {
    g.pool_size = static_cast<std::size_t>(parse_int(e, 0, 100000));
  } else if (key.rfind("service_tier.", 0) == 0) {
    auto tier = key.substr(std::string("service_tier.").size());
    if (tier.empty() || tier.size() > 256)
      throw input_error::at(e.where, 0, e.key, "expected service_tier.NAME = LEVEL (0 to " +
                                                   std::to_string(policies::max_priority) + ")");
    g.service_tiers[tier] = static_cast<std::int16_t>(parse_int(e, 0, policies::max_priority));
  } else {
    throw input_error::at(e.where, 0, e.key,
                          "unknown key (gateway keys: upstream, upstream.MODEL, upstream_key, "
                          "connect_timeout, response_timeout, idle_timeout, max_body, pool_size, "
                          "service_tier.NAME)");
  }
}

struct named_plan {
  std::string preset;
  std::string preset_where;
  std::vector<policies::plan::setting> settings;
  std::string where;  ///< its section's line
};

struct account_draft {
  std::string plan;
  std::string plan_where;
  std::vector<std::string> keys;
  std::vector<policies::plan::setting> settings;
  std::string where;
};

// "account.acme.queue" -> ("acme", "queue."); the name has no dots.
std::pair<std::string, std::string> split_section(const std::string& section,
                                                  const std::string& kind) {
  auto rest = section.substr(kind.size() + 1);
  auto dot = rest.find('.');
  if (dot == std::string::npos) return {rest, ""};
  return {rest.substr(0, dot), rest.substr(dot + 1) + "."};
}

}  // namespace

std::map<std::string, std::int64_t> account_limits(const node_config& c) {
  std::map<std::string, std::int64_t> out;
  for (auto& a : c.accounts) {
    const auto& plan = *c.plans.at(a.plan).plan;
    out[a.name] = plan.profile(plan.profile_of(a.name)).limit;
  }
  return out;
}

node_config read_node_config(const std::string& path, const std::string& node, bool keys_required) {
  return node_config_from(traces::read_ini_file(path, "node config"), node, keys_required);
}

node_config node_config_from(const traces::ini_file& file, const std::string& node, bool keys_required) {
  const std::string& path = file.path;
  node_config c;
  std::map<std::string, named_plan> plans;
  std::map<std::string, account_draft> accounts;
  std::vector<std::string> account_order;
  std::string gateway_where;
  std::string limits_text;  ///< the [plan.*] and [account.*] lines, for the cluster's digest
  const auto where_of = [&](std::size_t line) { return path + ":" + std::to_string(line); };

  for (auto& [section, line] : file.sections) {
    auto kind = section.substr(0, section.find('.'));
    if (section == "node") continue;
    if (section == "gateway") {
      c.gateway.enabled = true;
      gateway_where = where_of(line);
      continue;
    }
    if (section == "cluster") {
      c.cluster.enabled = true;
      c.cluster.where = where_of(line);
      continue;
    }
    if ((kind == "plan" || kind == "account") && section.size() > kind.size() + 1) {
      auto name = split_section(section, kind).first;
      if (!valid_name(name))
        throw input_error::at(where_of(line), 0, "[" + section + "]",
                              "a " + kind + " name is 1-64 letters, digits, '_' or '-', got " +
                                  policies::quoted(name));
      if (kind == "plan" && !plans.count(name)) plans[name].where = where_of(line);
      if (kind == "account" && !accounts.count(name)) {
        accounts[name].where = where_of(line);
        account_order.push_back(name);
      }
      continue;
    }
    throw input_error::at(where_of(line), 0, "[" + section + "]",
                          "unknown section (use [node], [cluster], [gateway], [plan.NAME] or "
                          "[account.NAME])");
  }

  for (auto& e : file.entries) {
    if (e.section.empty())
      throw input_error::at(e.where, 0, e.key,
                            "outside any section (use [node], [plan.NAME] or [account.NAME])");
    auto kind = e.section.substr(0, e.section.find('.'));
    if (kind == "node" && e.section == "node") {
      node_key(e, c, path);
      continue;
    }
    if (e.section == "cluster") {
      cluster_key(e, c.cluster);
      continue;
    }
    if (e.section == "gateway") {
      gateway_key(e, c.gateway);
      continue;
    }
    // What limits customers: every node of a cluster must read the same.
    limits_text += e.key + "=" + e.value + "\n";
    auto [name, prefix] = split_section(e.section, kind);
    auto key = prefix + e.key.substr(e.section.size() + 1);
    if (kind == "plan") {
      auto& p = plans[name];
      if (key == "preset") {
        p.preset = e.value;
        p.preset_where = e.where;
      } else {
        p.settings.push_back({key, e.value, e.where});
      }
      continue;
    }
    auto& a = accounts[name];
    if (key == "plan") {
      a.plan = e.value;
      a.plan_where = e.where;
    } else if (key == "key") {
      if (!actors::http::is_sha256_hex(e.value))
        throw input_error::at(e.where, 0, e.key,
                              "expected the SHA-256 hex digest of an API key (usher key hash "
                              "KEY), got " + policies::quoted(e.value));
      auto h = e.value;
      std::transform(h.begin(), h.end(), h.begin(), ::tolower);
      a.keys.push_back(h);
    } else {
      a.settings.push_back({"account." + name + "." + key, e.value, e.where});
    }
  }

  if (accounts.empty())
    throw input_error::in(path, "no accounts (add an [account.NAME] section with plan and key)");
  std::map<std::string, std::string> key_owner;
  std::map<std::string, std::size_t> plan_index;
  for (auto& name : account_order) {
    auto& a = accounts[name];
    if (a.plan.empty())
      throw input_error::at(a.where, 0, "[account." + name + "]",
                            "missing `plan = ...` (a preset, a [plan.NAME] or a plan file)");
    if (a.keys.empty() && keys_required)
      throw input_error::at(a.where, 0, "[account." + name + "]",
                            "missing `key = ...` (usher key hash KEY prints one)");
    for (auto& k : a.keys) {
      auto [it, fresh] = key_owner.emplace(k, name);
      if (!fresh && it->second != name)
        throw input_error::at(a.where, 0, "key",
                              "the same key is given to accounts " + policies::quoted(it->second) +
                                  " and " + policies::quoted(name));
    }
    auto pi = plan_index.find(a.plan);
    if (pi == plan_index.end()) {
      pi = plan_index.emplace(a.plan, c.plans.size()).first;
      c.plans.push_back(served_plan{a.plan, nullptr, {}});
    }
    c.plans[pi->second].accounts.push_back(name);
    c.accounts.push_back(served_account{name, a.keys, pi->second});
  }

  const auto& presets = policies::plan::preset_names();
  for (auto& sp : c.plans) {
    const auto& first = accounts[sp.accounts.front()];
    std::string preset, origin = first.plan_where;
    std::vector<policies::plan::setting> settings;
    if (auto np = plans.find(sp.spec); np != plans.end()) {
      if (np->second.preset.empty())
        throw input_error::at(np->second.where, 0, "[plan." + sp.spec + "]",
                              "missing `preset = ...` (such as streams:team)");
      preset = np->second.preset;
      origin = np->second.preset_where;
      settings = np->second.settings;
    } else if (std::find(presets.begin(), presets.end(), sp.spec) != presets.end()) {
      preset = sp.spec;
    } else {
      fs::path file = sp.spec;
      if (file.is_relative()) file = fs::path(path).parent_path() / file;
      if (!std::ifstream(file).good()) {
        std::string names;
        for (auto& n : presets) names += (names.empty() ? "" : ", ") + n;
        throw input_error::at(first.plan_where, 0, "plan",
                              "unknown plan " + policies::quoted(sp.spec) + " (a preset: " + names +
                                  "; a [plan.NAME] section; or a plan file)");
      }
      auto pf = traces::read_plan_file(file.string());
      preset = pf.preset;
      settings = pf.settings;
    }
    for (auto& name : sp.accounts)
      for (auto& s : accounts[name].settings) settings.push_back(s);
    // A plan file's lines count too: they limit customers as much as the config's.
    limits_text += "plan " + sp.spec + " preset=" + preset + "\n";
    for (auto& s : settings) limits_text += s.key + "=" + s.value + "\n";
    try {
      traces::load_gate_libraries(settings, fs::path(path).parent_path().string());
      sp.plan = policies::plan::build(preset, settings);
    } catch (const input_error& e) {
      if (e.file().empty()) throw input_error::in(origin, e.what());
      throw;
    }
  }
  if (c.gateway.enabled && !c.gateway.fallback && c.gateway.by_model.empty())
    throw input_error::at(gateway_where, 0, "[gateway]",
                          "no upstream (add `upstream = http://HOST:PORT`, or "
                          "`upstream.MODEL = ...` per model)");
  // An unused [plan.NAME] is allowed: a plan kept for later.
  if (c.recovery < 0) c.recovery = c.lease_ttl;  // ttl, whichever line set lease_ttl
  if (c.cluster.enabled) {
    auto error = actors::cluster::finish_cluster_config(c.cluster, node);
    if (!error.empty()) throw input_error::at(c.cluster.where, 0, "[cluster]", error);
    c.cluster.limits_digest = actors::http::sha256_hex(limits_text);
  } else if (!node.empty()) {
    throw input_error::in(path, "--node " + node + " needs a [cluster] section naming the peers");
  }
  return c;
}

}  // namespace usher::tools
