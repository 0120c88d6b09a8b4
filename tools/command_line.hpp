#pragma once
/// What every usher subcommand does alike with its command line and its
/// errors, so that all of them say the same things the same way and exit
/// with the same codes (tools/commands.hpp).

#include <boost/program_options.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

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

/// Runs `body` and turns what escapes it into an exit code, printed as
/// "usher COMMAND: what": bad input (policies::input_error, which names its
/// place) exits 2, anything else 1.
int report_errors(const std::string& command, const std::function<int()>& body);

}  // namespace usher::tools
