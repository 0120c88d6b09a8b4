#include "tools/outcome_metrics.hpp"

#include <cmath>
#include <cstdio>

namespace usher::tools {

namespace {

double share(std::int64_t n, std::int64_t of) {
  return of <= 0 ? 0.0 : std::round(static_cast<double>(n) / static_cast<double>(of) * 1e6) / 1e6;
}

std::int64_t status_count(const nlohmann::json& entry, const char* code) {
  const auto& s = entry.at("status");
  return s.contains(code) ? s.at(code).get<std::int64_t>() : 0;
}

}  // namespace

outcome_metrics outcome_metrics::of(const nlohmann::json& entry) {
  outcome_metrics m;
  m.requests = entry.at("requests").get<std::int64_t>();
  auto ok = status_count(entry, "200");
  m.rate_200 = share(ok, m.requests);
  m.rate_202 = share(entry.at("queued").get<std::int64_t>(), m.requests);
  m.rate_408 = share(status_count(entry, "408"), m.requests);
  m.rate_429 = share(status_count(entry, "429"), m.requests);
  m.rate_1008 = share(status_count(entry, "1008"), m.requests);
  m.rate_other = share(m.requests - ok - status_count(entry, "408") - status_count(entry, "429") -
                           status_count(entry, "1008"),
                       m.requests);
  m.not_200_rate = share(m.requests - ok, m.requests);
  const auto& w = entry.at("wait_s");
  m.wait_mean_s = w.at("mean").get<double>();
  m.wait_p95_s = w.at("p95").get<double>();
  m.wait_p99_s = w.at("p99").get<double>();
  if (!entry.at("utilization").is_null()) m.utilization = entry.at("utilization").get<double>();
  m.peak_in_flight = entry.at("in_flight").at("peak").get<std::int64_t>();
  m.hold_mean_s = entry.at("hold_s").at("mean").get<double>();
  return m;
}

const std::vector<std::string>& outcome_metrics::names() {
  static const std::vector<std::string> n = {
      "requests",    "rate_200",    "rate_202",   "rate_408",   "rate_429",    "rate_1008",
      "not_200_rate", "wait_mean_s", "wait_p95_s", "wait_p99_s", "utilization", "peak_in_flight",
      "hold_mean_s"};
  return n;
}

std::vector<std::string> outcome_metrics::csv_fields() const {
  return {std::to_string(requests), decimal(rate_200),    decimal(rate_202),
          decimal(rate_408),        decimal(rate_429),    decimal(rate_1008),
          decimal(not_200_rate),    decimal(wait_mean_s), decimal(wait_p95_s),
          decimal(wait_p99_s),      utilization ? decimal(*utilization) : "",
          std::to_string(peak_in_flight), decimal(hold_mean_s)};
}

nlohmann::json outcome_metrics::to_json() const {
  nlohmann::json j;
  j["requests"] = requests;
  j["rate_200"] = rate_200;
  j["rate_202"] = rate_202;
  j["rate_408"] = rate_408;
  j["rate_429"] = rate_429;
  j["rate_1008"] = rate_1008;
  j["rate_other"] = rate_other;
  j["not_200_rate"] = not_200_rate;
  j["wait_mean_s"] = wait_mean_s;
  j["wait_p95_s"] = wait_p95_s;
  j["wait_p99_s"] = wait_p99_s;
  if (utilization) j["utilization"] = *utilization; else j["utilization"] = nullptr;
  j["peak_in_flight"] = peak_in_flight;
  j["hold_mean_s"] = hold_mean_s;
  return j;
}

outcome_metrics outcome_metrics::from_json(const nlohmann::json& j) {
  outcome_metrics m;
  m.requests = j.at("requests").get<std::int64_t>();
  m.rate_200 = j.at("rate_200").get<double>();
  m.rate_202 = j.at("rate_202").get<double>();
  m.rate_408 = j.at("rate_408").get<double>();
  m.rate_429 = j.at("rate_429").get<double>();
  m.rate_1008 = j.at("rate_1008").get<double>();
  m.rate_other = j.at("rate_other").get<double>();
  m.not_200_rate = j.at("not_200_rate").get<double>();
  m.wait_mean_s = j.at("wait_mean_s").get<double>();
  m.wait_p95_s = j.at("wait_p95_s").get<double>();
  m.wait_p99_s = j.at("wait_p99_s").get<double>();
  if (!j.at("utilization").is_null()) m.utilization = j.at("utilization").get<double>();
  m.peak_in_flight = j.at("peak_in_flight").get<std::int64_t>();
  m.hold_mean_s = j.at("hold_mean_s").get<double>();
  return m;
}

std::string outcome_metrics::table_cells() const {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "%9lld | %7s %7s %7s %7s %7s | %7s %9.3f %9.3f %9.3f %7s %6lld %9.3f",
                static_cast<long long>(requests), percent(rate_200).c_str(),
                percent(rate_408).c_str(), percent(rate_429).c_str(), percent(rate_1008).c_str(),
                percent(rate_other).c_str(), percent(rate_202).c_str(), wait_mean_s, wait_p95_s,
                wait_p99_s, percent(utilization).c_str(), static_cast<long long>(peak_in_flight),
                hold_mean_s);
  return buf;
}

std::string outcome_metrics::table_header() {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "%9s | %7s %7s %7s %7s %7s | %7s %9s %9s %9s %7s %6s %9s",
                "requests", "200", "408", "429", "1008", "other", "queued", "mean wait", "p95 wait",
                "p99 wait", "util", "peak", "mean hold");
  return buf;
}

std::string decimal(double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", x);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::string percent(std::optional<double> share) {
  if (!share) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", *share * 100.0);
  return buf;
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    const auto& f = fields[i];
    if (f.find_first_of(",\"\n\r") == std::string::npos) {
      line += f;
      continue;
    }
    line += '"';
    for (char c : f) {
      if (c == '"') line += '"';
      line += c;
    }
    line += '"';
  }
  line += '\n';
  return line;
}

}  // namespace usher::tools
