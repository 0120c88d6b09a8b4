#include "actors/messages.hpp"

namespace usher::actors {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<policies::arrival>("usher::arrival");
  cfg.add_message_type<policies::outcome>("usher::outcome");
  cfg.add_message_type<policies::interval_row>("usher::interval_row");
  cfg.add_message_type<policies::usage_totals>("usher::usage_totals");
  cfg.add_message_type<clients::client_stats>("usher::client_stats");
  cfg.add_message_type<arrival_batch>("usher::arrival_batch");
  cfg.add_message_type<outcome_batch>("usher::outcome_batch");
  cfg.add_message_type<final_report>("usher::final_report");
  // live node (issue #5)
  cfg.add_message_type<admit_request>("usher::admit_request");
  cfg.add_message_type<admit_reply>("usher::admit_reply");
  cfg.add_message_type<cancel_request>("usher::cancel_request");
  cfg.add_message_type<lease_request>("usher::lease_request");
  cfg.add_message_type<lease_reply>("usher::lease_reply");
  cfg.add_message_type<ticket_poll>("usher::ticket_poll");
  cfg.add_message_type<ticket_cancel>("usher::ticket_cancel");
  cfg.add_message_type<usage_query>("usher::usage_query");
  cfg.add_message_type<in_flight_request>("usher::in_flight_request");
  cfg.add_message_type<concurrency_snapshot>("usher::concurrency_snapshot");
  cfg.add_message_type<account_metrics>("usher::account_metrics");
  cfg.add_message_type<live_metrics>("usher::live_metrics");
  cfg.add_message_type<metrics_query>("usher::metrics_query");
  // cluster (issue #10)
  cfg.add_message_type<moved_lease>("usher::moved_lease");
  cfg.add_message_type<std::vector<moved_lease>>("std::vector<usher::moved_lease>");
  cfg.add_message_type<handed_over>("usher::handed_over");
  cfg.add_message_type<std::vector<moved_account>>("std::vector<usher::moved_account>");
  cfg.add_message_type<group_activate>("usher::group_activate");
}

}  // namespace usher::actors
