// GET /metrics: Prometheus text format (version 0.0.4). Per-account series
// carry an `account` label for at most cfg.metrics_accounts accounts (by name
// order); the rest are summed under account="_other", so label cardinality
// stays bounded however many accounts a node serves.
//
// Unlimited is +Inf (a limit of an account without one, a file descriptor
// limit without one), never -1, so a ratio such as usher_used_cost /
// usher_limit reads 0 rather than a negative number. Outcomes count what the
// client saw: the session-rate seed's 1008 is 429 over HTTP and in a
// WebSocket error frame (edge::impl::count_refusal_as_429), 1008 only for
// a WebSocket closed with it.
#include <algorithm>
#include <map>
#include <sstream>

#include "actors/http/process_metrics.hpp"
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

namespace {

void merge(account_metrics& into, const account_metrics& x) {
  into.in_flight += x.in_flight;
  into.used += x.used;
  into.limit = (into.limit < 0 || x.limit < 0) ? -1 : into.limit + x.limit;
  into.queued += x.queued;
  into.connections += x.connections;
  std::map<std::uint16_t, std::int64_t> by_code(into.outcomes.begin(), into.outcomes.end());
  for (auto& [c, n] : x.outcomes) by_code[c] += n;
  into.outcomes.assign(by_code.begin(), by_code.end());
  into.enqueued += x.enqueued;
  into.leases_expired += x.leases_expired;
  into.adopted += x.adopted;
  into.adopted_over_limit += x.adopted_over_limit;
  into.names += x.names;
  if (into.wait_buckets.size() < x.wait_buckets.size()) into.wait_buckets.resize(x.wait_buckets.size());
  for (std::size_t i = 0; i < x.wait_buckets.size(); ++i) into.wait_buckets[i] += x.wait_buckets[i];
  into.wait_sum_us += x.wait_sum_us;
  into.wait_count += x.wait_count;
  for (const auto& g : x.gates) {
    auto same = std::find_if(into.gates.begin(), into.gates.end(), [&](auto& h) { return h.first == g.first; });
    if (same == into.gates.end()) into.gates.push_back(g);
    else same->second += g.second;
  }
}

// A label value with '\\', '"' and newlines escaped (the text format's rule).
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string seconds(std::int64_t us) {
  std::ostringstream s;
  s << static_cast<double>(us) / 1e6;
  return s.str();
}

}  // namespace

// Moves the session-rate refusals the clients saw as 429 from 1008 to 429.
// `as_429` was read before the actors were asked, so it never holds one
// their counts lack.
void count_as_seen(std::vector<account_metrics>& accounts,
                   const std::map<std::string, std::int64_t>& as_429) {
  for (auto& a : accounts) {
    auto i = as_429.find(a.account);
    if (i == as_429.end()) continue;
    std::map<std::uint16_t, std::int64_t> by_code(a.outcomes.begin(), a.outcomes.end());
    auto moved = std::min(i->second, by_code[1008]);
    by_code[1008] -= moved;
    by_code[429] += moved;
    if (by_code[1008] == 0) by_code.erase(1008);
    if (by_code[429] == 0) by_code.erase(429);
    a.outcomes.assign(by_code.begin(), by_code.end());
  }
}

std::string metrics_text(const edge::impl& edge, std::vector<account_metrics> accounts,
                         const std::map<std::string, std::int64_t>& refusals_as_429) {
  count_as_seen(accounts, refusals_as_429);
  std::sort(accounts.begin(), accounts.end(),
            [](const auto& a, const auto& b) { return a.account < b.account; });
  if (accounts.size() > edge.cfg.metrics_accounts) {
    account_metrics other;
    other.account = "_other";
    other.limit = 0;
    for (std::size_t i = edge.cfg.metrics_accounts; i < accounts.size(); ++i)
      merge(other, accounts[i]);
    accounts.resize(edge.cfg.metrics_accounts);
    accounts.push_back(std::move(other));
  }
  std::ostringstream o;
  auto gauge = [&](const char* name, const char* help, auto get) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n";
    for (auto& a : accounts) o << name << "{account=\"" << a.account << "\"} " << get(a) << "\n";
  };
  gauge("usher_in_flight", "Admitted requests holding a lease now.",
        [](const account_metrics& a) { return a.in_flight; });
  gauge("usher_used_cost", "Cost units held by in-flight requests.",
        [](const account_metrics& a) { return a.used; });
  gauge("usher_limit", "The account's pool capacity in cost units (+Inf: unlimited).",
        [](const account_metrics& a) {
          return a.limit < 0 ? std::string("+Inf") : std::to_string(a.limit);
        });
  gauge("usher_queued", "Requests waiting in the account's queue.",
        [](const account_metrics& a) { return a.queued; });
  gauge("usher_ws_connections", "Open WebSocket connections.",
        [](const account_metrics& a) { return a.connections; });
  gauge("usher_names", "Distinct model and product names in use (max_names_per_account).",
        [](const account_metrics& a) { return a.names; });

  o << "# HELP usher_outcomes_total Admission outcomes by the status the client saw (1008: a "
       "WebSocket closed for the session rate).\n"
       "# TYPE usher_outcomes_total counter\n";
  for (auto& a : accounts)
    for (auto& [code, n] : a.outcomes)
      o << "usher_outcomes_total{account=\"" << a.account << "\",code=\"" << code << "\"} " << n
        << "\n";
  o << "# HELP usher_enqueued_total Requests that waited in a queue (202 first).\n"
       "# TYPE usher_enqueued_total counter\n";
  for (auto& a : accounts)
    o << "usher_enqueued_total{account=\"" << a.account << "\"} " << a.enqueued << "\n";
  o << "# HELP usher_leases_expired_total Leases the node released because their TTL ran out.\n"
       "# TYPE usher_leases_expired_total counter\n";
  for (auto& a : accounts)
    o << "usher_leases_expired_total{account=\"" << a.account << "\"} " << a.leases_expired
      << "\n";
  o << "# HELP usher_recovery_adopted_total Leases adopted while recovering after a restart.\n"
       "# TYPE usher_recovery_adopted_total counter\n";
  for (auto& a : accounts)
    o << "usher_recovery_adopted_total{account=\"" << a.account << "\"} " << a.adopted << "\n";
  o << "# HELP usher_recovery_adopted_over_limit_total Adopted leases that did not fit: a pool "
       "over its capacity until they end.\n"
       "# TYPE usher_recovery_adopted_over_limit_total counter\n";
  for (auto& a : accounts)
    o << "usher_recovery_adopted_over_limit_total{account=\"" << a.account << "\"} "
      << a.adopted_over_limit << "\n";

  o << "# HELP usher_queue_wait_seconds Time from arrival to admission or 408.\n"
       "# TYPE usher_queue_wait_seconds histogram\n";
  const auto& bounds = live_wait_bounds_us();
  for (auto& a : accounts) {
    std::int64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      cumulative += i < a.wait_buckets.size() ? a.wait_buckets[i] : 0;
      o << "usher_queue_wait_seconds_bucket{account=\"" << a.account << "\",le=\""
        << (i < bounds.size() ? seconds(bounds[i]) : std::string("+Inf")) << "\"} "
        << cumulative << "\n";
    }
    o << "usher_queue_wait_seconds_sum{account=\"" << a.account << "\"} "
      << seconds(a.wait_sum_us) << "\n";
    o << "usher_queue_wait_seconds_count{account=\"" << a.account << "\"} " << a.wait_count
      << "\n";
  }

  o << "# HELP usher_http_responses_total HTTP responses sent by the edge, by status.\n"
       "# TYPE usher_http_responses_total counter\n";
  for (std::size_t i = 0; i < edge.responses.size(); ++i) {
    auto n = edge.responses[i].load();
    if (n > 0) o << "usher_http_responses_total{code=\"" << (i + 100) << "\"} " << n << "\n";
  }
  o << "# HELP usher_ws_policy_closes_total WebSockets closed with 1008 (session rate).\n"
       "# TYPE usher_ws_policy_closes_total counter\n"
    << "usher_ws_policy_closes_total " << edge.ws_policy_closes.load() << "\n";
  o << "# HELP usher_ws_leases_lost_total WebSockets closed with 1013: their leases could not "
       "be kept (a cluster member's).\n"
       "# TYPE usher_ws_leases_lost_total counter\n"
    << "usher_ws_leases_lost_total " << edge.ws_leases_lost.load() << "\n";
  o << "# HELP usher_sse_streams Open concurrency streams.\n# TYPE usher_sse_streams gauge\n"
    << "usher_sse_streams " << edge.sse_streams.load() << "\n";
  o << "# HELP usher_ws_open Open WebSocket sessions at the edge.\n# TYPE usher_ws_open gauge\n"
    << "usher_ws_open " << edge.ws_open.load() << "\n";
  o << "# HELP usher_http_connections Open client connections (HTTP, SSE and WebSocket).\n"
       "# TYPE usher_http_connections gauge\n"
    << "usher_http_connections " << edge.connections() << "\n";
  o << "# HELP usher_max_connections The connection cap (max_connections).\n"
       "# TYPE usher_max_connections gauge\n"
    << "usher_max_connections " << edge.cfg.max_connections << "\n";
  o << "# HELP usher_accept_errors_total Failed accepts (EMFILE: out of file descriptors).\n"
       "# TYPE usher_accept_errors_total counter\n"
    << "usher_accept_errors_total " << edge.accept_errors.load() << "\n";
  using conn_end = edge::impl::conn_end;
  auto ends = [&](conn_end e) {
    return edge.connection_ends[static_cast<std::size_t>(e)].load();
  };
  o << "# HELP usher_connections_shed_total Idle connections closed to make room for new ones "
       "(at max_connections or the open-file limit).\n"
       "# TYPE usher_connections_shed_total counter\n"
    << "usher_connections_shed_total " << ends(conn_end::shed) << "\n";
  o << "# HELP usher_connections_refused_total New connections answered 503 and closed at once "
       "(at the cap or limit with nothing idle to shed).\n"
       "# TYPE usher_connections_refused_total counter\n"
    << "usher_connections_refused_total " << edge.connections_refused.load() << "\n";
  o << "# HELP usher_connection_timeouts_total Connections closed by a timeout, by phase.\n"
       "# TYPE usher_connection_timeouts_total counter\n"
    << "usher_connection_timeouts_total{phase=\"request\"} " << ends(conn_end::request_timeout)
    << "\n"
    << "usher_connection_timeouts_total{phase=\"idle\"} " << ends(conn_end::idle_timeout) << "\n"
    << "usher_connection_timeouts_total{phase=\"write\"} " << ends(conn_end::write_timeout)
    << "\n";
  o << "# HELP usher_internal_errors_total Requests whose handling threw (answered 500 or "
       "closed; the node went on).\n# TYPE usher_internal_errors_total counter\n"
    << "usher_internal_errors_total " << edge.internal_errors.load() << "\n";
  o << "# HELP usher_build_info The usher build serving: version and commit.\n"
       "# TYPE usher_build_info gauge\n"
    << "usher_build_info{version=\"" << label_value(edge.cfg.version) << "\",commit=\""
    << label_value(edge.cfg.commit) << "\"} 1\n";
  if (auto& c = edge.cfg.cluster_stats) {
    o << "# HELP usher_cluster_members Members of this node's cluster by state, as it sees them.\n"
         "# TYPE usher_cluster_members gauge\n"
      << "usher_cluster_members{state=\"up\"} " << c->members_up.load() << "\n"
      << "usher_cluster_members{state=\"joining\"} " << c->members_joining.load() << "\n"
      << "usher_cluster_members{state=\"down\"} " << c->members_down.load() << "\n";
    o << "# HELP usher_cluster_majority 1 while this node reaches a majority and may grant.\n"
         "# TYPE usher_cluster_majority gauge\n"
      << "usher_cluster_majority " << (c->majority.load() ? 1 : 0) << "\n";
    o << "# HELP usher_cluster_generation This node's generation (raised each time it is voted "
         "out).\n# TYPE usher_cluster_generation gauge\n"
      << "usher_cluster_generation " << c->generation.load() << "\n";
    o << "# HELP usher_cluster_groups_held Account groups this node owns now.\n"
         "# TYPE usher_cluster_groups_held gauge\n"
      << "usher_cluster_groups_held " << c->groups_held.load() << "\n";
    o << "# HELP usher_cluster_forwarded_total Requests sent on to the member that owns the "
         "account.\n# TYPE usher_cluster_forwarded_total counter\n"
      << "usher_cluster_forwarded_total " << c->forwarded.load() << "\n";
    o << "# HELP usher_cluster_forwarded_failed_total Of those, answered 503 because the owner "
         "went down.\n# TYPE usher_cluster_forwarded_failed_total counter\n"
      << "usher_cluster_forwarded_failed_total " << c->forwarded_failed.load() << "\n";
    o << "# HELP usher_cluster_grants_too_late_total Of those, grants that came back too late "
         "to be kept (this member was paused, or the network held them): answered 503 and "
         "released.\n# TYPE usher_cluster_grants_too_late_total counter\n"
      << "usher_cluster_grants_too_late_total " << c->grants_too_late.load() << "\n";
    o << "# HELP usher_cluster_received_total Requests other members sent to this one.\n"
         "# TYPE usher_cluster_received_total counter\n"
      << "usher_cluster_received_total " << c->received.load() << "\n";
    o << "# HELP usher_cluster_takeovers_total Account groups taken over from a member voted "
         "out.\n# TYPE usher_cluster_takeovers_total counter\n"
      << "usher_cluster_takeovers_total " << c->takeovers.load() << "\n";
    o << "# HELP usher_cluster_takeovers_from_copy_total Of those, started from this member's "
         "copy (replicas = 1): no recovery window.\n"
         "# TYPE usher_cluster_takeovers_from_copy_total counter\n"
      << "usher_cluster_takeovers_from_copy_total " << c->takeovers_from_copy.load() << "\n";
    o << "# HELP usher_cluster_replica_waits_total Grants and renewals held until the backup had "
         "their lease (replicas = 1).\n# TYPE usher_cluster_replica_waits_total counter\n"
      << "usher_cluster_replica_waits_total " << c->replica_waits.load() << "\n";
    o << "# HELP usher_cluster_replica_failed_total Of those, answered 503: the account moved "
         "meanwhile, or the wait ate two thirds of the TTL.\n"
         "# TYPE usher_cluster_replica_failed_total counter\n"
      << "usher_cluster_replica_failed_total " << c->replica_failed.load() << "\n";
    o << "# HELP usher_cluster_replica_messages_total Messages carrying changes to backups "
         "(replicas = 1): the grants and renewals of one instant go in one.\n"
         "# TYPE usher_cluster_replica_messages_total counter\n"
      << "usher_cluster_replica_messages_total " << c->replica_messages.load() << "\n";
    o << "# HELP usher_cluster_handoffs_total Account groups handed to or from another member.\n"
         "# TYPE usher_cluster_handoffs_total counter\n"
      << "usher_cluster_handoffs_total{direction=\"out\"} " << c->handoffs_out.load() << "\n"
      << "usher_cluster_handoffs_total{direction=\"in\"} " << c->handoffs_in.load() << "\n";
  }
  if (edge.cfg.gateway) {
    o << "# HELP usher_gateway_calls_open Admitted requests being proxied to a model server now.\n"
         "# TYPE usher_gateway_calls_open gauge\n"
      << "usher_gateway_calls_open " << edge.calls_open.load() << "\n";
    o << "# HELP usher_gateway_calls_total Proxied requests ended, by how: complete, or why "
         "early.\n# TYPE usher_gateway_calls_total counter\n";
    for (std::size_t i = 0; i < gateway::call_end_kinds; ++i)
      o << "usher_gateway_calls_total{end=\""
        << (i == 0 ? "complete" : gateway::call_end_codes[i]) << "\"} " << edge.call_ends[i].load()
        << "\n";
    o << "# HELP usher_gateway_upstream_idle_connections Keep-alive connections to model servers "
         "waiting for reuse.\n# TYPE usher_gateway_upstream_idle_connections gauge\n"
      << "usher_gateway_upstream_idle_connections " << edge.upstreams->idle() << "\n";
  }
  write_process_metrics(o);
  return o.str();
}

}  // namespace usher::actors::http
