#pragma once
/// Per-client token-length statistics of ServeGen (the derived
/// servegen_client_token_stats.csv.gz: mean, p50, p90, p99 and max of each
/// field per client per 6 h window), and draws from them.
///
/// A draw follows a piecewise-linear quantile curve through (0.5, p50),
/// (0.9, p90), (0.99, p99) and (1, max); its lowest point (0, lo) is chosen
/// so the curve's mean equals the published mean where it can, clamped to
/// [0, p50]. Input tokens are `input_tokens`, or for multimodal clients
/// text_tokens plus, per modality, a count draw times a token draw. A
/// window without stats for the client falls back to the client's nearest
/// earlier window, then its first. Immutable after loading.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "traces/random.hpp"

namespace usher::traces {

class servegen_token_stats {
 public:
  /// Loads the rows of the models in `models` (all when empty). Throws input_error.
  servegen_token_stats(const std::string& path, const std::unordered_set<std::string>& models);

  struct window;  // one client's curves in one 6 h window

  /// The stats for client `account` ("model/client_id") at source second
  /// `t`, or nullptr when the client has none.
  const window* find(const std::string& account, std::int64_t t) const;

  /// Draws (input, output) tokens. REQUIRES: w from find().
  static std::pair<std::int64_t, std::int64_t> draw(const window& w, rng& g);

  std::size_t clients() const { return by_client_.size(); }

  enum field : std::size_t {
    input_tokens,
    output_tokens,
    text_tokens,
    image_tokens,
    audio_tokens,
    video_tokens,
    image_count,
    audio_count,
    video_count,
    field_count
  };
  struct window {
    std::int64_t start = 0;
    std::array<std::optional<std::vector<std::pair<double, double>>>, field_count> curves;
  };

 private:
  std::unordered_map<std::string, std::vector<window>> by_client_;  // sorted by start
};

}  // namespace usher::traces
