#include "traces/outcome_writer.hpp"

namespace usher::traces {

using namespace policies;

outcome_writer::outcome_writer(const std::string& path, trace_reader& reader)
    : out_(path), reader_(reader) {
  for (auto* h : {"id", "account", "key", "model", "arrival_s", "start_s", "end_s", "wait_s",
                  "status", "queued", "reason"})
    out_.field(h);
  out_.end_row();
}

void outcome_writer::write(const outcome& o) {
  row_label label = reader_.take_label();
  if (!any_) {
    first_arrival_ = label.at;
    any_ = true;
  }
  if (label.id.empty())
    out_.field(static_cast<std::int64_t>(o.seq + 1));
  else
    out_.field(label.id);
  out_.field(reader_.accounts().name(label.account));
  out_.field(reader_.keys().name(label.key));
  if (label.model == no_id)
    out_.empty();
  else
    out_.field(reader_.models().name(label.model));
  out_.seconds(label.at);
  if (o.start >= 0) {
    out_.seconds(o.start);
    out_.seconds(o.end);
  } else {
    out_.empty();
    out_.empty();
  }
  out_.seconds(o.wait);
  out_.field(static_cast<std::int64_t>(o.code));
  out_.field(std::int64_t{o.queued ? 1 : 0});
  out_.field(to_string(o.why));
  out_.end_row();
}

series_writer::series_writer(const std::string& path, const interner& accounts, usec interval)
    : out_(path), accounts_(accounts), interval_(interval) {
  for (auto* h : {"interval_start_s", "account", "arrivals", "admitted", "queued", "timeouts",
                  "rejected", "closed_1008", "in_flight_max", "in_flight_mean", "used_max",
                  "queue_max"})
    out_.field(h);
  out_.end_row();
}

void series_writer::write(const interval_row& r) {
  out_.seconds(r.start);
  out_.field(accounts_.name(r.account));
  out_.field(r.arrivals).field(r.admitted).field(r.queued).field(r.timeouts);
  out_.field(r.rejected).field(r.closed).field(r.in_flight_max);
  out_.ratio3(r.in_flight_area, interval_);
  out_.field(r.used_max).field(r.queue_max);
  out_.end_row();
}

}  // namespace usher::traces
