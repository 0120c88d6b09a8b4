#include "policies/usage_meter.hpp"

#include <algorithm>
#include <limits>

namespace usher::policies {

namespace {

// total += x and area += level x span for the integrals and sums below
// (non-negative), saturating at the int64 ceiling instead of wrapping
// (undefined behaviour): a trace can hold a cost of 10^9 for 29,000 years,
// and a plan's capacities may reach 2^63 (found with the fuzz build,
// docs/SECURITY.md). Exact below 2^63, which is every trace short of that.
void add_saturating(std::int64_t& total, std::int64_t x) {
  if (__builtin_add_overflow(total, x, &total)) total = std::numeric_limits<std::int64_t>::max();
}

void add_area(std::int64_t& area, std::int64_t level, usec span) {
  std::int64_t product = 0, sum = 0;
  if (__builtin_mul_overflow(level, span, &product) || __builtin_add_overflow(area, product, &sum))
    area = std::numeric_limits<std::int64_t>::max();
  else
    area = sum;
}

constexpr usec day = seconds(86400);
constexpr usec hour = seconds(3600);
}  // namespace

std::size_t status_slot(status s) {
  for (std::size_t i = 0; i < reported_statuses.size(); ++i)
    if (reported_statuses[i] == s) return i;
  return 0;
}

void usage_totals::merge(const usage_totals& o) {
  requests += o.requests;
  queued += o.queued;
  for (std::size_t i = 0; i < by_status.size(); ++i) by_status[i] += o.by_status[i];
  waits.merge(o.waits);
  add_saturating(wait_sum, o.wait_sum);
  wait_max = std::max(wait_max, o.wait_max);
  add_saturating(queued_wait_sum, o.queued_wait_sum);
  holds += o.holds;
  add_saturating(hold_sum, o.hold_sum);
  hold_max = std::max(hold_max, o.hold_max);
  peak_in_flight += o.peak_in_flight;  // an upper bound; callers that need the
  peak_used += o.peak_used;            // true combined peak compute it apart
  peak_queue += o.peak_queue;
  add_saturating(in_flight_area, o.in_flight_area);
  add_saturating(used_area, o.used_area);
  maxed_business += o.maxed_business;
  if (limit < 0 || o.limit < 0) limit = -1;
  else add_saturating(limit, o.limit);
}

usec business_overlap(usec from, usec to, int start_hour, int end_hour) {
  if (to <= from) return 0;
  usec total = 0;
  usec d = from / day * day;
  for (; d < to; d += day) {
    usec a = std::max(from, d + start_hour * hour);
    usec b = std::min(to, d + end_hour * hour);
    if (b > a) total += b - a;
  }
  return total;
}

usage_meter::usage_meter(id account, std::int64_t limit, usec interval,
                         const signal_params& signals, std::vector<interval_row>* series)
    : interval_(interval), signals_(signals), series_(series) {
  totals_.limit = limit;
  row_.account = account;
}

void usage_meter::advance(usec now) {
  if (now <= last_) return;
  // Integrate [last_, now) piecewise over interval boundaries.
  while (last_ < now) {
    usec row_end = row_.start + interval_;
    usec step_end = std::min(now, row_end);
    usec span = step_end - last_;
    add_area(totals_.in_flight_area, in_flight_, span);
    add_area(totals_.used_area, used_, span);
    add_area(row_.in_flight_area, in_flight_, span);
    if (totals_.limit > 0 && used_ >= totals_.limit)
      totals_.maxed_business += business_overlap(last_, step_end, signals_.business_start_hour,
                                                 signals_.business_end_hour);
    last_ = step_end;
    if (last_ == row_end) {
      emit();
      if (in_flight_ == 0 && depth_ == 0 && now - last_ >= interval_) {
        // Idle: skip the empty intervals in one step.
        usec skip_to = now / interval_ * interval_;
        row_.start = skip_to;
        last_ = skip_to;
      }
    }
  }
}

void usage_meter::emit() {
  bool busy = row_active_ || row_.in_flight_area > 0 || row_.queue_max > 0;
  if (busy && series_ != nullptr) series_->push_back(row_);
  id account = row_.account;
  usec next = row_.start + interval_;
  row_ = interval_row{};
  row_.account = account;
  row_.start = next;
  row_.in_flight_max = in_flight_;
  row_.used_max = used_;
  row_.queue_max = depth_;
  row_active_ = false;
}

void usage_meter::close(usec now) {
  advance(now);
  if (row_active_ || row_.in_flight_area > 0 || row_.queue_max > 0) emit();
}

void usage_meter::arrived(usec now) {
  advance(now);
  ++totals_.requests;
  ++row_.arrivals;
  row_active_ = true;
}

void usage_meter::started(usec now, std::int64_t cost) {
  advance(now);
  ++in_flight_;
  used_ += cost;
  totals_.peak_in_flight = std::max(totals_.peak_in_flight, in_flight_);
  totals_.peak_used = std::max(totals_.peak_used, used_);
  row_.in_flight_max = std::max(row_.in_flight_max, in_flight_);
  row_.used_max = std::max(row_.used_max, used_);
  row_active_ = true;
}

void usage_meter::finished(usec now, std::int64_t cost) {
  advance(now);
  --in_flight_;
  used_ -= cost;
  row_active_ = true;
}

void usage_meter::queue_depth(usec now, std::int64_t depth) {
  advance(now);
  depth_ = depth;
  totals_.peak_queue = std::max(totals_.peak_queue, depth);
  row_.queue_max = std::max(row_.queue_max, depth);
}

void usage_meter::admitted(usec now) {
  advance(now);
  ++row_.admitted;
}

void usage_meter::held(usec duration) {
  ++totals_.holds;
  add_saturating(totals_.hold_sum, duration);
  totals_.hold_max = std::max(totals_.hold_max, duration);
}

void usage_meter::enqueued(usec now) {
  advance(now);
  ++row_.queued;
  row_active_ = true;
}

void usage_meter::decided(usec now, status code, bool was_queued, usec wait) {
  advance(now);
  ++totals_.by_status[status_slot(code)];
  totals_.waits.add(wait);
  add_saturating(totals_.wait_sum, wait);
  totals_.wait_max = std::max(totals_.wait_max, wait);
  if (was_queued) {
    ++totals_.queued;
    add_saturating(totals_.queued_wait_sum, wait);
  }
  switch (code) {
    case status::timeout: ++row_.timeouts; break;
    case status::rejected: ++row_.rejected; break;
    case status::policy_close: ++row_.closed; break;
    default: break;
  }
  row_active_ = true;
}

}  // namespace usher::policies
