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
}

}  // namespace usher::actors
