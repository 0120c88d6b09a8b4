#pragma once
/// What every usher subcommand does alike with its command line and its
/// errors, so that all of them say the same things the same way and exit
/// with the same codes (tools/commands.hpp).

#include <boost/program_options.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policies/time.hpp"

namespace usher::tools {

/// Parses `args` against `desc` into `vm`, then runs `check` (the command's
/// rules between options; it throws boost::program_options::error).
/// Returns the exit code when the command ends here: 0 after printing
/// --help; 2 after "usher COMMAND: reason" and a pointer to --help on
/// stderr. Returns nullopt when the command goes on.
std::optional<int> parse_options(const std::string& command, const std::vector<std::string>& args,
                                 const boost::program_options::options_description& desc,
                                 boost::program_options::variables_map& vm,
                                 const std::function<void()>& check = {});

/// The text of a command-line error: boost's message, and for an unknown
/// option the nearest one `desc` knows ("; did you mean \"--trace\"?").
std::string option_error(const boost::program_options::error& e,
                         const boost::program_options::options_description& desc);

/// The value of a duration option such as --stop or --interval: seconds, or
/// with a unit as in plan files ("90", "250ms", "1m", "1h"). Throws
/// policies::input_error naming `option` otherwise.
policies::usec duration_option(const std::string& option, const std::string& text);

/// Runs `body` and turns what escapes it into an exit code, printed as
/// "usher COMMAND: what": bad input (policies::input_error, which names its
/// place) exits 2, anything else 1.
int report_errors(const std::string& command, const std::function<int()>& body);

/// For a batch run (simulate, sweep, advise): memory freed is kept for reuse
/// instead of given back to the system, and large blocks come from the
/// heap rather than mappings of their own. The replay frees and allocates
/// blocks of rows all the time; given back, each one's pages were faulted
/// in again, which on a virtual machine cost 15 % of a run (issue #14).
/// Not for `serve`, whose memory should shrink after a burst.
void keep_freed_memory();

/// --workload, --client and --stop: generated clients (docs/WORKLOADS.md), as
/// simulate and cluster-sim take them. `client_note`: what the command adds
/// to --client's help.
void add_client_options(boost::program_options::options_description& d, std::string& workload,
                        std::vector<std::string>& clients, std::string& stop,
                        const std::string& client_note = "");

}  // namespace usher::tools
