#include "traces/converters/trace_sink.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace usher::traces {

using policies::usec;

namespace {

// Synthetic account names sort in rank order: acct-01 .. acct-10.
std::vector<std::string> account_names(std::uint32_t n) {
  std::size_t width = std::to_string(n).size();
  std::vector<std::string> names;
  names.reserve(n);
  for (std::uint32_t k = 1; k <= n; ++k) {
    auto digits = std::to_string(k);
    names.push_back("acct-" + std::string(width - digits.size(), '0') + digits);
  }
  return names;
}

std::string format_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
}

// The stream id of per-row account draws (any fixed value would do).
constexpr std::uint64_t account_stream = 0x6163636f756e7473;  // "accounts"

}  // namespace

trace_sink::trace_sink(const convert_options& options, sink_columns columns,
                       bool source_has_accounts, convert_result& result)
    : options_(options),
      columns_(columns),
      source_has_accounts_(source_has_accounts),
      result_(result),
      out_(options.output),
      draws_(substream_seed(options.seed, account_stream)) {
  for (auto& [from, to] : options.model_map) model_map_[from] = to;
  std::uint32_t n = options.accounts;
  if (options.account.empty() && !source_has_accounts && n == 0) {
    n = convert_options::default_accounts;
    result_.notes.push_back("accounts: the source has none; drew each request's account from " +
                            std::to_string(n) + " synthetic accounts (Zipf exponent " +
                            format_number(options.zipf) + ", seed " + std::to_string(options.seed) +
                            "; set with --accounts, --zipf, --seed)");
  }
  if (options.account.empty() && n > 0) {
    synthetic_ = account_names(n);
    zipf_ = std::make_unique<zipf_table>(n, options.zipf);
  }
  out_.field("id").field("arrival_s").field("account").field("model").field("duration_s");
  if (columns_.cost) out_.field("cost");
  if (columns_.fail) out_.field("fail");
  if (columns_.tokens) out_.field("input_tokens").field("output_tokens");
  out_.end_row();
}

std::string_view trace_sink::account_of(std::string_view source_account) {
  if (!options_.account.empty()) return options_.account;
  if (!zipf_) return source_account;
  if (!source_has_accounts_) return synthetic_[(*zipf_)(draws_)];
  auto [it, fresh] = bucket_.try_emplace(std::string(source_account), 0);
  if (fresh) {
    auto bits = mix64(substream_seed(options_.seed, account_stream, stable_hash(source_account)));
    it->second = zipf_->pick(uniform01(bits));
  }
  return synthetic_[it->second];
}

void trace_sink::write(const trace_row& row) {
  if (row.at < last_source_) throw std::logic_error("trace_sink: rows out of order");
  last_source_ = row.at;
  // Draw the account first, so which rows the window keeps never shifts the draws.
  auto account = account_of(row.account);
  if (row.at < options_.from || row.at >= options_.to) return;

  usec rebased = row.at - options_.from;
  usec at =
      options_.time_scale == 1.0
          ? rebased
          : static_cast<usec>(std::llround(static_cast<double>(rebased) * options_.time_scale));
  std::string_view model = row.model;
  if (!options_.model.empty()) {
    model = options_.model;
  } else if (!model_map_.empty()) {
    auto it = model_map_.find(std::string(model));
    if (it != model_map_.end()) model = it->second;
  }

  ++result_.rows;
  if (result_.rows == 1) result_.first = at;
  result_.last = at;
  out_.field(static_cast<std::int64_t>(result_.rows)).seconds(at).field(account).field(model);
  out_.seconds(row.duration);
  if (columns_.cost) row.cost >= 0 ? out_.field(row.cost) : out_.empty();
  if (columns_.fail) out_.field(row.fail ? "1" : "0");
  if (columns_.tokens) {
    row.input_tokens >= 0 ? out_.field(row.input_tokens) : out_.empty();
    row.output_tokens >= 0 ? out_.field(row.output_tokens) : out_.empty();
  }
  out_.end_row();
}

void trace_sink::close() {
  out_.close();
}

}  // namespace usher::traces
