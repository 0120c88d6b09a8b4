#include "traces/converters/servegen_token_stats.hpp"

#include <algorithm>
#include <cmath>

#include "traces/csv_table.hpp"

namespace usher::traces {

namespace {

constexpr const char* field_names[] = {"input_tokens", "output_tokens", "text_tokens",
                                       "image_tokens", "audio_tokens",  "video_tokens",
                                       "image_count",  "audio_count",   "video_count"};

// The quantile curve described in the header.
std::vector<std::pair<double, double>> curve(double mean, double p50, double p90, double p99,
                                             double max) {
  double upper = 0.4 * (p50 + p90) / 2 + 0.09 * (p90 + p99) / 2 + 0.01 * (p99 + max) / 2;
  double lo = std::clamp(4.0 * (mean - upper) - p50, 0.0, p50);
  return {{0.0, lo}, {0.5, p50}, {0.9, p90}, {0.99, p99}, {1.0, max}};
}

std::int64_t draw_one(const std::vector<std::pair<double, double>>& c, rng& g) {
  return std::llround(piecewise_linear_quantile(c, uniform01(g)));
}

}  // namespace

servegen_token_stats::servegen_token_stats(const std::string& path,
                                           const std::unordered_set<std::string>& models) {
  csv_table in(path);
  const char* expected =
      "token stats need model, client_id, window_start_s, field, mean, p50, p90, p99, max";
  int model = in.require("model", expected), client = in.require("client_id", expected),
      start = in.require("window_start_s", expected), name = in.require("field", expected),
      mean = in.require("mean", expected), p50 = in.require("p50", expected),
      p90 = in.require("p90", expected), p99 = in.require("p99", expected),
      max = in.require("max", expected);
  while (in.next()) {
    if (!models.empty() && !models.count(std::string(in.text(model)))) continue;
    auto f = std::find(std::begin(field_names), std::end(field_names), in.text(name));
    if (f == std::end(field_names)) continue;  // reason_ratio and future fields
    std::string account = std::string(in.text(model)) + "/" + std::string(in.text(client));
    auto& windows = by_client_[account];
    auto w_start = in.count(start);
    if (windows.empty() || windows.back().start != w_start) {
      if (!windows.empty() && windows.back().start > w_start)
        in.fail(start, "rows of a client must be sorted by window_start_s");
      windows.push_back(window{w_start, {}});
    }
    double q50 = in.number(p50, 0), q90 = in.number(p90, q50), q99 = in.number(p99, q90);
    windows.back().curves[static_cast<std::size_t>(f - std::begin(field_names))] =
        curve(in.number(mean, 0), q50, q90, q99, in.number(max, q99));
  }
}

const servegen_token_stats::window* servegen_token_stats::find(const std::string& account,
                                                               std::int64_t t) const {
  auto it = by_client_.find(account);
  if (it == by_client_.end() || it->second.empty()) return nullptr;
  auto& ws = it->second;
  auto after = std::upper_bound(ws.begin(), ws.end(), t,
                                [](std::int64_t v, const window& w) { return v < w.start; });
  return after == ws.begin() ? &ws.front() : &*(after - 1);
}

std::pair<std::int64_t, std::int64_t> servegen_token_stats::draw(const window& w, rng& g) {
  auto get = [&](field f) -> std::int64_t { return w.curves[f] ? draw_one(*w.curves[f], g) : 0; };
  std::int64_t input = 0;
  if (w.curves[input_tokens]) {
    input = get(input_tokens);
  } else {
    input = get(text_tokens);
    for (auto [count, tokens] :
         {std::pair{image_count, image_tokens}, std::pair{audio_count, audio_tokens},
          std::pair{video_count, video_tokens}})
      if (auto n = get(count); n > 0) input += n * get(tokens);
  }
  return {input, get(output_tokens)};
}

}  // namespace usher::traces
