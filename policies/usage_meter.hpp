#pragma once
/// What the seeds promise a customer to see, measured per account: outcomes by
/// status, queue waits, in-flight over time (peak, time-weighted mean, time
/// at the limit during business hours) and a time series per interval.
///
/// Fed by whoever drives the engine, with the engine's times (microseconds,
/// never decreasing). Counters are integers and histograms add, so totals
/// merged from many meters are exact and independent of how accounts were
/// split between actors. Owned by one actor; not thread-safe.

#include <array>
#include <cstdint>
#include <vector>

#include "policies/plan.hpp"
#include "policies/request.hpp"
#include "policies/wait_histogram.hpp"

namespace usher::policies {

/// Outcome statuses counted separately, in report order.
constexpr std::array<status, 7> reported_statuses = {
    status::ok,           status::bad_request, status::timeout,     status::rejected,
    status::client_closed, status::failed,     status::policy_close};
std::size_t status_slot(status s);

/// Summable totals of one account (or of many, merged).
struct usage_totals {
  std::int64_t requests = 0;
  std::int64_t queued = 0;  ///< saw 202 first
  std::array<std::int64_t, reported_statuses.size()> by_status{};
  wait_histogram waits;        ///< every request's wait (0 when not queued)
  std::int64_t wait_sum = 0;
  std::int64_t wait_max = 0;
  std::int64_t queued_wait_sum = 0;  ///< waits of queued requests only
  std::int64_t holds = 0;      ///< admitted requests that held units
  std::int64_t hold_sum = 0;   ///< how long they held them, us
  std::int64_t hold_max = 0;
  std::int64_t peak_in_flight = 0;
  std::int64_t peak_used = 0;
  std::int64_t peak_queue = 0;
  std::int64_t in_flight_area = 0;   ///< integral of in-flight over time (count x us)
  std::int64_t used_area = 0;        ///< integral of used units over time (units x us)
  std::int64_t maxed_business = 0;   ///< us at the pool limit within business hours
  std::int64_t limit = -1;           ///< pool capacity (-1 unlimited); sums when merged

  void merge(const usage_totals& o);
};

/// One time-series row: one account over one interval.
struct interval_row {
  usec start = 0;
  id account = 0;
  std::int64_t arrivals = 0;
  std::int64_t admitted = 0;   ///< started (immediately or from the queue)
  std::int64_t queued = 0;     ///< 202s
  std::int64_t timeouts = 0;   ///< 408s
  std::int64_t rejected = 0;   ///< 429s
  std::int64_t closed = 0;     ///< 1008s
  std::int64_t in_flight_max = 0;
  std::int64_t in_flight_area = 0;  ///< for the interval's mean
  std::int64_t used_max = 0;
  std::int64_t queue_max = 0;
};

class usage_meter {
 public:
  /// `interval` > 0 is the time-series step; closed interval rows are
  /// appended to `*series` (nullptr: no time series). `signals` gives
  /// business hours.
  usage_meter(id account, std::int64_t limit, usec interval, const signal_params& signals,
              std::vector<interval_row>* series);

  void arrived(usec now);
  /// An admitted request started holding `cost` units (in_flight +1).
  void started(usec now, std::int64_t cost);
  /// A request released `cost` units (in_flight -1).
  void finished(usec now, std::int64_t cost);
  void queue_depth(usec now, std::int64_t depth);
  /// The request's outcome is known; `wait` is how long it queued.
  void decided(usec now, status code, bool was_queued, usec wait);
  /// A request started, immediately or from the queue.
  void admitted(usec now);
  /// An admitted request held its units this long (known at its start for
  /// fixed durations, at its end under the backend model).
  void held(usec duration);
  /// A request entered the queue (answered 202).
  void enqueued(usec now);

  /// Brings integrals and intervals up to `now`.
  void advance(usec now);
  /// Advances to `now` and closes the open interval too (end of run).
  void close(usec now);

  const usage_totals& totals() const { return totals_; }

 private:
  void emit();

  usec interval_;
  signal_params signals_;
  usage_totals totals_;
  usec last_ = 0;               ///< integrals are up to date until here
  std::int64_t in_flight_ = 0;
  std::int64_t used_ = 0;
  std::int64_t depth_ = 0;
  interval_row row_;            ///< the open interval
  bool row_active_ = false;     ///< anything happened in it
  std::vector<interval_row>* series_;
};

/// Microseconds of [from, to) that fall within [start_hour, end_hour) of some
/// day, where time 0 is 00:00 of day 0.
usec business_overlap(usec from, usec to, int start_hour, int end_hour);

}  // namespace usher::policies
