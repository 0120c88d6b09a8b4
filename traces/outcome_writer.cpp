#include "traces/outcome_writer.hpp"

namespace usher::traces {

using namespace policies;

outcome_writer::outcome_writer(const std::string& path, trace_reader& reader,
                               std::vector<std::string> client_names)
    : out_(path), reader_(reader), client_names_(std::move(client_names)) {
  for (auto* h : {"id", "account", "key", "model", "arrival_s", "start_s", "end_s", "wait_s",
                  "status", "queued", "reason"})
    out_.field(h);
  if (!client_names_.empty())
    for (auto* h : {"client", "request", "attempt", "final"}) out_.field(h);
  out_.end_row();
}

void outcome_writer::write(const outcome& o) {
  if (!any_) {
    first_arrival_ = o.at;
    any_ = true;
  }
  const std::string& account = reader_.accounts().name(o.account);
  bool generated = (o.seq & generated_seq_bit) != 0;
  if (generated) {
    // ACCOUNT#REQUEST.ATTEMPT: unique, and it links the attempts of a request.
    id_.assign(account).push_back('#');
    id_ += std::to_string(o.request_no);
    id_.push_back('.');
    id_ += std::to_string(o.attempt_no);
    out_.field(id_);
    out_.field(account);
    out_.empty();
  } else {
    row_label label = reader_.take_label();
    if (label.id.empty())
      out_.field(static_cast<std::int64_t>(o.seq + 1));
    else
      out_.field(label.id);
    out_.field(account);
    out_.field(reader_.keys().name(label.key));
  }
  if (o.model == no_id)
    out_.empty();
  else
    out_.field(reader_.models().name(o.model));
  out_.seconds(o.at);
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
  if (!client_names_.empty()) {
    if (generated) {
      out_.field(client_names_[o.client]);
      out_.field(static_cast<std::int64_t>(o.request_no));
      out_.field(static_cast<std::int64_t>(o.attempt_no));
      out_.field(std::int64_t{o.final ? 1 : 0});
    } else {
      out_.empty().empty().empty().empty();
    }
  }
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
