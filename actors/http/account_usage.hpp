#pragma once
/// What the two dashboard pages read besides the SSE stream: each account's
/// usage and outcome counters as JSON, gathered from the admission actors'
/// metrics (the same live_metrics GET /metrics reports), and the HTML answer
/// that serves a page. Private to actors/http/.
///
/// Counters are totals since the node started, never rates: a page turns
/// two snapshots into "408 and 429 per minute" by their difference over
/// their `at` (the node's Unix epoch milliseconds), so the actors keep no
/// per-minute state and every client may pick its own window.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/http/edge_state.hpp"

namespace usher::actors::http {

/// Asks each of `actors` for its live_metrics and calls `done` on `ex` with
/// the accounts of all that answered (an actor gone, as when the node stops,
/// adds none). `done` runs once, at once when `actors` is empty.
void gather_metrics(edge::impl& edge, const std::vector<admission_actor>& actors,
                    const asio::any_io_executor& ex,
                    std::function<void(std::vector<account_metrics>)> done);

/// GET /account/metrics: {"at":..,"account":..,"in_use":..,"limit":..,
/// "requests":..,"queued":..,"outcomes":{"200":..,"408":..,"429":..,..},
/// "queue_waits":..,"queue_wait_ms":..}. `in_use` is cost units held (what
/// `limit` bounds; `limit` null: unlimited), `requests` the leases held;
/// `outcomes` counts every final status so far and always lists 408 and 429;
/// `queue_waits` the admissions and 408s, each with its queue wait (0 when
/// admitted at once), and `queue_wait_ms` the sum of those waits.
std::string account_usage_json(const account_metrics& m, std::int64_t at_ms);

/// GET /metrics/accounts: {"at":..,"accounts":[..]}, every account of the
/// node (by name; not bounded by metrics_accounts) in the shape above
/// without `at`.
std::string accounts_usage_json(std::vector<account_metrics> accounts, std::int64_t at_ms);

/// Now as Unix epoch milliseconds (the `at` of the documents above).
std::int64_t unix_ms_now();

/// A page of the node (the dashboard, the operator view): HTML that may run
/// its own inline script and talk to this node only (Content-Security-Policy
/// allows nothing else), never cached or framed.
string_response page_response(const std::string& html, unsigned version, bool keep_alive);

}  // namespace usher::actors::http
