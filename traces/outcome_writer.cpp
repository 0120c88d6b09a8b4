#include "traces/outcome_writer.hpp"

namespace usher::traces {

using namespace policies;

outcome_writer::outcome_writer(const std::string& path, trace_reader& reader,
                               std::vector<std::string> client_names)
    : out_(path), reader_(reader), client_names_(std::move(client_names)) {
  outcome_header(out_, !client_names_.empty(), reader_.has_priority());
}

void outcome_header(csv_out& out, bool with_clients, bool with_priority) {
  for (auto* h : {"id", "account", "key", "model", "arrival_s", "start_s", "end_s", "wait_s",
                  "status", "queued", "reason"})
    out.field(h);
  if (with_clients)
    for (auto* h : {"client", "request", "attempt", "final"}) out.field(h);
  if (with_priority) out.field("priority");
  out.end_row();
}

void series_header(csv_out& out) {
  for (auto* h : {"interval_start_s", "account", "arrivals", "admitted", "queued", "timeouts",
                  "rejected", "closed_1008", "in_flight_max", "in_flight_mean", "used_max",
                  "queue_max"})
    out.field(h);
  out.end_row();
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
  outcome_fields(out_, o, reader_.models(), reader_.gates(), client_names_, reader_.has_priority());
  out_.end_row();
}

void outcome_fields(csv_out& out, const outcome& o, const interner& models,
                    const std::vector<gate_spec>& gates,
                    const std::vector<std::string>& client_names, bool with_priority) {
  if (o.model == no_id)
    out.empty();
  else
    out.field(models.name(o.model));
  out.seconds(o.at);
  if (o.start >= 0) {
    out.seconds(o.start);
    out.seconds(o.end);
  } else {
    out.empty();
    out.empty();
  }
  out.seconds(o.wait);
  out.field(static_cast<std::int64_t>(o.code));
  out.field(std::int64_t{o.queued ? 1 : 0});
  if (o.why == reason::gate && o.gate < gates.size())
    out.field("gate:" + gates[o.gate].name);
  else
    out.field(to_string(o.why));
  if (!client_names.empty()) {
    if ((o.seq & generated_seq_bit) != 0) {
      out.field(client_names[o.client]);
      out.field(static_cast<std::int64_t>(o.request_no));
      out.field(static_cast<std::int64_t>(o.attempt_no));
      out.field(std::int64_t{o.final ? 1 : 0});
    } else {
      out.empty().empty().empty().empty();
    }
  }
  if (with_priority) priority_field(out, o.priority);
}

void priority_field(csv_out& out, std::int16_t asked) {
  if (asked < 0) out.empty();
  else out.field(std::int64_t{asked});
}

series_writer::series_writer(const std::string& path, const interner& accounts, usec interval)
    : out_(path), accounts_(accounts), interval_(interval) {
  series_header(out_);
}

void series_writer::write(const interval_row& r) {
  series_fields(out_, r, accounts_, interval_);
  out_.end_row();
}

void series_fields(csv_out& out, const interval_row& r, const interner& accounts, usec interval) {
  out.seconds(r.start);
  out.field(accounts.name(r.account));
  out.field(r.arrivals).field(r.admitted).field(r.queued).field(r.timeouts);
  out.field(r.rejected).field(r.closed).field(r.in_flight_max);
  out.ratio3(r.in_flight_area, interval);
  out.field(r.used_max).field(r.queue_max);
}

}  // namespace usher::traces
