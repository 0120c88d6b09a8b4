#include "actors/http/account_usage.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

namespace usher::actors::http {

namespace {

using json = nlohmann::ordered_json;

json usage_object(const account_metrics& m) {
  json j;
  j["account"] = m.account;
  j["in_use"] = m.used;
  if (m.limit < 0)
    j["limit"] = nullptr;
  else
    j["limit"] = m.limit;
  j["requests"] = m.in_flight;
  j["queued"] = m.queued;
  // 408 and 429 always, so a page reads 0 before the first one.
  json outcomes = json::object();
  outcomes["408"] = 0;
  outcomes["429"] = 0;
  for (auto& [code, n] : m.outcomes) outcomes[std::to_string(code)] = n;
  j["outcomes"] = std::move(outcomes);
  j["queue_waits"] = m.wait_count;
  j["queue_wait_ms"] = m.wait_sum_us / 1000;
  // The plan's plug-in gates, when it has any (docs/GATES.md).
  if (!m.gates.empty()) {
    json gates = json::object();
    for (auto& [name, v] : m.gates) gates[name] = v;
    j["gates"] = std::move(gates);
  }
  return j;
}

// Account names are checked at config time, but a dump never throws on
// bytes that are not UTF-8 (as in responses.cpp).
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

void gather_metrics(edge::impl& edge, const std::vector<admission_actor>& actors,
                    const asio::any_io_executor& ex,
                    std::function<void(std::vector<account_metrics>)> done) {
  struct gather {
    std::vector<account_metrics> all;
    std::size_t left = 0;
    std::function<void(std::vector<account_metrics>)> done;
  };
  if (actors.empty()) return done({});
  auto g = std::make_shared<gather>();
  g->left = actors.size();
  g->done = std::move(done);
  for (auto& a : actors)
    edge.to_actors.ask<live_metrics>(a, metrics_atom::value, ex,
                                     [g](std::optional<live_metrics> m) {
                                       if (m)
                                         for (auto& x : m->accounts) g->all.push_back(std::move(x));
                                       if (--g->left == 0) g->done(std::move(g->all));
                                     });
}

std::string account_usage_json(const account_metrics& m, std::int64_t at_ms) {
  json j;
  j["at"] = at_ms;
  j.update(usage_object(m));
  return dump(j);
}

std::string accounts_usage_json(std::vector<account_metrics> accounts, std::int64_t at_ms) {
  std::sort(accounts.begin(), accounts.end(),
            [](const auto& a, const auto& b) { return a.account < b.account; });
  json j;
  j["at"] = at_ms;
  j["accounts"] = json::array();
  for (auto& a : accounts) j["accounts"].push_back(usage_object(a));
  return dump(j);
}

std::int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

string_response page_response(const std::string& html, unsigned version, bool keep_alive) {
  string_response res{bhttp::status::ok, version};
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-store");
  // The pages hold a key in memory: no script, style or connection from
  // elsewhere, no framing by another site, no Referer with the URL.
  res.set("Content-Security-Policy",
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
          "frame-ancestors 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.keep_alive(keep_alive);
  res.body() = html;
  res.prepare_payload();
  return res;
}

}  // namespace usher::actors::http
