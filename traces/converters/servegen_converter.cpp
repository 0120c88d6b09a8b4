// ServeGen (alibaba/ServeGen): per-client statistics of Alibaba Bailian LLM
// traffic, one row per (model, client, 600 s window) with the client's rate
// and its inter-arrival distribution (Gamma or Weibull, shape and scale).
//
// Each active window of a client becomes k arrivals, where k has mean
// rate_rps x rate_scale x 600 (its floor, plus one with the probability of
// the fraction). As ServeGen's construct.py does, k + 1 inter-arrival
// times are drawn from the window's distribution and rescaled to sum to
// 600 s; the first k partial sums are the arrivals and the last lands on
// the window's end. (construct.py draws ceil(x) gaps and drops the one on
// the end, so it yields ceil(x) - 1 arrivals, nothing when x <= 1; the
// rounding here keeps the expected count equal to the rate.) account =
// "model/client_id", model = the model; tokens come from the client's token
// stats (--token-stats) or exponentials of the default means, and the
// service-time model turns them into a duration.
//
// Memory: the active windows of the chosen models and time range, plus one
// window's rows. Each (client, window) draws from its own substream of the
// seed, so a filtered conversion is a subset of the full one.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "policies/input_error.hpp"
#include "traces/converters/converters.hpp"
#include "traces/converters/servegen_token_stats.hpp"
#include "traces/converters/trace_sink.hpp"
#include "traces/csv_table.hpp"

namespace usher::traces {

using policies::input_error;
using policies::usec;

namespace {

constexpr std::int64_t window_s = 600;

struct client_window {
  std::int64_t start;    // seconds
  std::uint32_t client;  // index into the clients table
  double rate, shape, scale;
  bool weibull;
};

struct client {
  std::string account;  // "model/client_id"
  std::string model;
};

struct arrival_row {
  usec at;
  std::uint32_t client;
  std::int64_t input, output;
};

// Draws the window's arrivals into `out` (source time, microseconds).
void draw_window(const client_window& w, double rate_scale, rng& g, std::vector<usec>& out) {
  double x = w.rate * rate_scale * static_cast<double>(window_s);
  auto k = static_cast<std::int64_t>(std::floor(x));
  if (uniform01(g) < x - static_cast<double>(k)) ++k;
  if (k == 0) return;
  std::vector<double> gaps(static_cast<std::size_t>(k + 1));
  double sum = 0;
  for (auto& gap : gaps)
    sum += gap = w.weibull ? weibull(g, w.shape, w.scale) : gamma(g, w.shape, w.scale);
  const usec start = w.start * policies::usec_per_second,
             span = window_s * policies::usec_per_second;
  double t = 0;
  for (std::int64_t i = 0; i < k; ++i) {
    // Degenerate draws (all gaps 0) spread evenly instead.
    t += sum > 0 && std::isfinite(sum) ? gaps[static_cast<std::size_t>(i)] / sum
                                       : 1.0 / static_cast<double>(k + 1);
    auto offset = static_cast<usec>(std::floor(t * static_cast<double>(span)));
    out.push_back(start + std::min(offset, span - 1));
  }
}

}  // namespace

convert_result convert_servegen(const convert_options& options) {
  check_cost_mode(options, {"tokens"}, "servegen");
  if (!(options.rate_scale > 0))
    throw input_error::at("--rate-scale", 0, "", "expected a positive number");
  convert_result result;
  std::unordered_set<std::string> wanted(options.models.begin(), options.models.end());
  std::unordered_set<std::string> seen_models;

  // The active windows of the chosen models that overlap [from, to).
  std::vector<client> clients;
  std::vector<client_window> windows;
  {
    csv_table in(options.input);
    const char* expected =
        "servegen needs model, client_id, window_start_s, rate_rps, iat_dist, dist_shape, "
        "dist_scale";
    int model = in.require("model", expected), id = in.require("client_id", expected),
        start = in.require("window_start_s", expected), rate = in.require("rate_rps", expected),
        dist = in.require("iat_dist", expected), shape = in.require("dist_shape", expected),
        scale = in.require("dist_scale", expected);
    std::unordered_map<std::string, std::uint32_t> client_index;
    while (in.next()) {
      std::string m(in.text(model));
      seen_models.insert(m);
      if (!wanted.empty() && !wanted.count(m)) continue;
      auto d = in.text(dist);
      if (d.empty()) continue;  // inactive
      if (d != "Gamma" && d != "Weibull")
        in.fail(dist,
                "expected Gamma, Weibull or nothing, got " + policies::quoted(std::string(d)));
      auto s = in.count(start);
      usec from = s * policies::usec_per_second;
      if (from + window_s * policies::usec_per_second <= options.from || from >= options.to)
        continue;
      std::string account = m + "/" + std::string(in.text(id));
      auto [it, fresh] =
          client_index.try_emplace(account, static_cast<std::uint32_t>(clients.size()));
      if (fresh) clients.push_back({account, m});
      ++result.source_records;
      windows.push_back({s, it->second, in.number(rate, 0), in.number(shape, 1e-300),
                         in.number(scale, 1e-300), d == "Weibull"});
    }
  }
  for (auto& m : options.models)
    if (!seen_models.count(m))
      throw input_error::at("--models", 0, "",
                            "no rows for model " + policies::quoted(m) + " in " + options.input);
  std::stable_sort(
      windows.begin(), windows.end(),
      [](const client_window& a, const client_window& b) { return a.start < b.start; });

  std::unique_ptr<servegen_token_stats> stats;
  if (!options.token_stats.empty())
    stats = std::make_unique<servegen_token_stats>(options.token_stats, wanted);
  std::size_t without_stats = 0;
  std::unordered_set<std::uint32_t> counted;

  result.notes.push_back("rates: published client rates x " + [&] {
    char b[32];
    std::snprintf(b, sizeof(b), "%g", options.rate_scale);
    return std::string(b);
  }() + " (--rate-scale; the published rates reach thousands of requests per second)");

  trace_sink sink(options, {options.cost == "tokens", false, true}, true, result);
  std::vector<arrival_row> batch;
  std::vector<usec> times;
  for (std::size_t i = 0; i < windows.size();) {
    std::size_t end = i;
    while (end < windows.size() && windows[end].start == windows[i].start) ++end;
    batch.clear();
    for (; i < end; ++i) {
      auto& w = windows[i];
      auto& c = clients[w.client];
      rng g(substream_seed(options.seed, stable_hash(c.account),
                           static_cast<std::uint64_t>(w.start)));
      times.clear();
      draw_window(w, options.rate_scale, g, times);
      const servegen_token_stats::window* tokens =
          stats ? stats->find(c.account, w.start) : nullptr;
      if (!tokens && counted.insert(w.client).second) ++without_stats;
      for (usec at : times) {
        std::int64_t in = 0, out = 0;
        if (tokens) {
          std::tie(in, out) = servegen_token_stats::draw(*tokens, g);
        } else {
          in = std::llround(exponential(g, options.mean_input_tokens));
          out = std::max<std::int64_t>(1, std::llround(exponential(g, options.mean_output_tokens)));
        }
        batch.push_back({at, w.client, in, out});
      }
    }
    std::stable_sort(batch.begin(), batch.end(),
                     [](const arrival_row& a, const arrival_row& b) { return a.at < b.at; });
    for (auto& a : batch) {
      trace_row row;
      row.at = a.at;
      row.account = clients[a.client].account;
      row.model = clients[a.client].model;
      row.input_tokens = a.input;
      row.output_tokens = a.output;
      row.cost = a.input + a.output;
      row.duration = options.service.of(a.input, a.output);
      sink.write(row);
    }
  }
  sink.close();
  if (!stats)
    result.notes.push_back(
        "tokens: no --token-stats; input and output tokens drawn from "
        "exponentials of mean " +
        std::to_string(std::llround(options.mean_input_tokens)) + " and " +
        std::to_string(std::llround(options.mean_output_tokens)));
  else if (without_stats > 0)
    result.notes.push_back("tokens: " + std::to_string(without_stats) +
                           " clients have no token stats and used the default means");
  return result;
}

}  // namespace usher::traces
