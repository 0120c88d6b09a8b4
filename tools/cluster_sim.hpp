#pragma once
/// `usher cluster-sim` (issue #11, docs/CLUSTER-SIM.md): a whole cluster of
/// `usher serve` members (their admission actors and cluster actors, the
/// serve's code, unchanged) in one process under CAF's virtual clock, the
/// network between them simulated (actors/cluster/sim_network.hpp), a trace
/// played against it by clients that hold, renew and release their leases
/// as the admission API asks, while a schedule of faults crashes, restarts,
/// pauses and cuts off members. It writes what every request got
/// (outcomes.csv), every lease's life as its holder saw it (leases.csv:
/// enough to recompute, without trusting usher, the units each account had
/// in use at every instant), summary.json and an event log; a seed replays
/// byte for byte.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policies/time.hpp"

namespace usher::tools {

/// One step of a fault schedule.
struct sim_fault {
  enum class kind : std::uint8_t {
    crash, restart, pause, resume, partition, heal, delay, drop, drop_end, reload
  };
  kind what = kind::crash;
  policies::usec at = 0;
  std::uint32_t member = 0;  ///< crash, restart, pause, resume, reload
  std::string file;          ///< reload: the config the member reads (SIGHUP), or
  /// reload `with`: --config's lines and these (KEY, VALUE) after them, each
  /// at the end of its section (`account.acme.limit`: [account.acme])
  std::vector<std::pair<std::string, std::string>> with;
  std::vector<int> side;     ///< partition: each member's side
  std::size_t pair = 0;      ///< partition, heal: which partition (they may overlap)
  policies::usec min = 0, max = 0;  ///< delay
  double probability = 0;           ///< drop, drop_end (a window of losses: its end)
  bool window = false;              ///< drop: a window's start (a drop_end follows)
  std::string text;          ///< as written (or generated), for the event log
};

/// A schedule line's words (split at blanks).
std::vector<std::string> words_of(const std::string& line);
/// A time as a schedule writes it: seconds, then "s" ("12.5s").
std::string seconds_text(policies::usec t);

/// Reads a fault schedule (docs/CLUSTER-SIM.md, "Faults"): one fault per
/// line, `#` starts a comment. `members` are the [cluster] peers' names.
/// Throws policies::input_error naming the file, line and word.
std::vector<sim_fault> read_faults(const std::string& path, const std::vector<std::string>& members);
/// The same from text (`name` for messages).
std::vector<sim_fault> parse_faults(const std::string& name, const std::string& text,
                                    const std::vector<std::string>& members);

/// `n` faults drawn from `seed`: crashes (with a restart), pauses and
/// partitions of one member at a time, each within [0, span], plus message
/// delays; with `losses`, windows of message loss among them too (clients
/// must have a timeout: a lost request never ends otherwise). In the
/// schedule's own words (sim_fault::text).
std::vector<sim_fault> random_faults(std::size_t n, std::uint64_t seed,
                                     const std::vector<std::string>& members,
                                     policies::usec span, policies::usec failure_timeout,
                                     bool losses = false);
/// The same as a schedule's text (one fault a line), to write to a file.
std::string random_fault_schedule(std::size_t n, std::uint64_t seed,
                                  const std::vector<std::string>& members, policies::usec span,
                                  policies::usec failure_timeout, bool losses = false);

/// With --random-faults, besides them: none, one or two rolling reloads
/// drawn from `seed` (every member reads new limits in turn, a fraction of
/// `failure_timeout` to twice it apart, one round after the other), each of
/// `limits`' accounts (name -> limit; below 1: left alone) given a limit from
/// half to twice its own. As a schedule's text (`reload NAME at TIME with
/// account.NAME.limit=N ...`). `add`: an account the first round adds and
/// the later ones keep (a streams:solo account of limit 2,
/// `account.ADD.plan=streams:solo`); "": none.
std::string random_reload_schedule(std::uint64_t seed, const std::vector<std::string>& members,
                                   policies::usec span, policies::usec failure_timeout,
                                   const std::map<std::string, std::int64_t>& limits,
                                   const std::string& add = "");

struct cluster_sim_request {
  std::string config;  ///< a serve config with a [cluster] section
  std::string trace;   ///< a trace (docs/FORMATS.md); optional `node` column; may be "" with clients
  std::string trace_name;  ///< --trace as replay_command shows it ("": `trace`)
  /// Generated clients, as `usher simulate` has them (docs/WORKLOADS.md): a
  /// workload file (its `trace` too, unless `trace` is given) and `--client`
  /// groups. They react to what the cluster answers (retries, think times).
  std::string workload;
  std::vector<std::string> clients;   ///< NAME:key=value,... groups
  std::optional<policies::usec> stop;  ///< overrides the workload's stop (default 1 h)
  std::string faults;  ///< a fault schedule file, or ""
  std::string faults_name;  ///< --faults as replay_command shows it ("": `faults`)
  std::size_t random_faults = 0;
  /// Draws everything: faults, the network, the clients (a workload file's
  /// `seed` is used by the command when --seed is not given).
  std::uint64_t seed = 1;
  /// Holders go on to their request's end even once their lease is lost (a
  /// renewal answered 404, or none answered for two thirds of a TTL), as
  /// clients that ignore the admission API's rules would: usher's guarantee
  /// does not cover them, and the run shows what they cost.
  bool holders_keep_going = false;
  /// Clients admit asynchronously (`"async": true`: 202 and a ticket when
  /// the request queues) and long-poll their ticket, through the member they
  /// entered at or the next one up, until it is decided.
  bool tickets = false;
  /// A client with no answer after this long gives up (499 client_timeout):
  /// its request leaves the owner's queue, a grant that comes later is
  /// released. 0: clients wait for ever (a request whose message was lost
  /// stays unanswered). With it, --random-faults draws message losses too.
  policies::usec client_timeout = 0;
  /// The load balancer probes each member's readiness (GET /readyz: 200
  /// while it has a majority) this often and sends nothing to one whose last
  /// probe failed (a paused member's fails), unless every member's did. 0:
  /// it skips only members whose process is gone.
  policies::usec health_check = 0;
  /// Checks in a row that disagree with a member's state before it changes
  /// (a load balancer's unhealthy and healthy thresholds; 1: every check decides).
  int health_threshold = 1;
  /// A check of a paused member (whose process answers nothing) fails this
  /// long after it was sent, as a real probe's timeout; if the member
  /// resumed meanwhile, the check says what its /readyz says then. 0: at
  /// once. Below health_check.
  policies::usec health_timeout = 0;
  /// Accounts whose requests events.log follows as their clients saw them:
  /// sent, answered, renewed, released, lost.
  std::vector<std::string> follow;
  std::string out_dir;  ///< where the files go; "" writes none
  std::string out_name;  ///< --out as the user gave it (out_dir may be a staging directory)
};

/// What the run found, over all accounts (summary.json has it per account).
struct cluster_sim_totals {
  std::uint64_t requests = 0, admitted = 0, refused_503 = 0, unanswered = 0;
  std::uint64_t leases = 0, leases_lost = 0;
  /// Units held at once above an account's limit, by the holders' own
  /// account (leases.csv), integrated over time; 0 where usher is strict.
  double unit_seconds_over = 0;
  std::int64_t max_over = 0;  ///< the most units above a limit at one instant
  /// The first instant an account held more than its limit, or connections
  /// more than its cap (-1: never).
  policies::usec first_over = -1;
  std::string first_over_account;  ///< whose it was ("": none)
  /// The same for open WebSocket connections against each account's
  /// max_connections (from leases.csv's ws_open rows).
  double connection_seconds_over = 0;
  std::int64_t max_connections_over = 0;
  /// Seconds accounts could not be admitted because of the cluster: from a
  /// request refused 503 (or lost with its member) to the account's next
  /// request its plan answers (200, 429, 408), summed over accounts; and the
  /// longest such stretch of one account.
  double unavailable_s = 0, longest_unavailable_s = 0;
  /// Accounts whose last request the cluster refused (503, or lost with its
  /// member): an outage still open when the trace ended.
  std::uint64_t unavailable_at_end = 0;
  std::uint64_t messages_lost = 0;
  /// Account groups a member took over from a member lost, and of those
  /// the ones started from the member's copy (replicas = 1: no recovery).
  std::uint64_t takeovers = 0, takeovers_from_copy = 0;
  /// replicas = 1: grants and renewals that waited for a backup, and the
  /// messages that carried changes to backups (those of one instant go
  /// together).
  std::uint64_t replica_waits = 0, replica_messages = 0;
  std::vector<std::string> faults;  ///< the schedule as applied
  /// The schedule as a file that replays it without --random-faults: one
  /// line per fault as written or drawn (a pause, a partition or a drop
  /// window is one line), in time order, a reload's FILE made absolute.
  std::vector<std::string> schedule;
  /// Generated clients: one line per group, as `usher simulate` prints it.
  std::string clients_table;
};

/// Runs it. Throws policies::input_error on bad input.
cluster_sim_totals run_cluster_sim(const cluster_sim_request& request);

/// The command line that replays `request` (for a failing property test).
std::string replay_command(const cluster_sim_request& request);

}  // namespace usher::tools
