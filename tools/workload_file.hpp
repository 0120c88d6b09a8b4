#pragma once
/// Reads a workload: which accounts run which client behaviour, with what
/// parameters (docs/WORKLOADS.md). INI, as plan files are:
///
///   seed = 7              # every generated draw follows from it
///   stop = 2h             # no new requests after this (in-flight ones finish)
///   trace = day.csv       # optional: rows replayed open loop alongside
///
///   [clients.bots]        # one section per group of generated accounts
///   accounts = 10         # bots-01 .. bots-10 (1: the account is "bots")
///   behaviour = conversations
///   conversations = 4
///   duration = exp:3s     # exp:MEAN, fixed:VALUE or lognormal:MEAN:CV
///   think = exp:10s
///
/// The same section keys also come from the command line as
/// `--client NAME:key=value,key=value`. Every error names file, line and key.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/client_actor.hpp"
#include "actors/clients/client_model.hpp"
#include "policies/plan.hpp"

namespace usher::tools {

struct client_group {
  std::string name;
  std::int64_t accounts = 1;
  actors::clients::client_spec spec;  ///< stop == never: the workload's stop
};

struct workload {
  std::string path;   ///< the file it was read from (empty: --client options only)
  std::uint64_t seed = 1;
  policies::usec stop = policies::seconds(3600);
  std::string trace;  ///< empty: generated accounts only
  std::vector<client_group> groups;

  /// The account names of group `g`: NAME, or NAME-01 .. NAME-NN.
  std::vector<std::string> account_names(const client_group& g) const;
};

/// Reads `path`. Throws policies::input_error (file, line, key).
workload read_workload_file(const std::string& path);

/// Adds a group from `NAME:key=value,key=value` (--client). Throws input_error.
void add_client_option(workload& w, const std::string& option);

/// The generated accounts of `w` as `plan` sees them (profile; the spec's
/// stop, or the workload's), with ids from `account_id` and `model_id`: a
/// run names them before any trace row, accounts and models in group order,
/// so their ids are the same whatever the trace holds. `group_of` gets the
/// group name of each, by its client index.
std::vector<actors::generated_account> generated_accounts(
    const workload& w, const policies::plan& plan,
    const std::function<policies::id(const std::string&)>& account_id,
    const std::function<policies::id(const std::string&)>& model_id,
    std::vector<std::string>& group_of);

}  // namespace usher::tools
