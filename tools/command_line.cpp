#include "tools/command_line.hpp"

#include <malloc.h>

#include <iostream>

#include "policies/closest_match.hpp"
#include "policies/input_error.hpp"
#include "tools/commands.hpp"

namespace usher::tools {

namespace po = boost::program_options;

std::optional<int> parse_options(const std::string& command, const std::vector<std::string>& args,
                                 const po::options_description& desc, po::variables_map& vm,
                                 const std::function<void()>& check) {
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << desc;
      return exit_ok;
    }
    po::notify(vm);
    if (check) check();
    return std::nullopt;
  } catch (const po::error& e) {
    std::cerr << "usher " << command << ": " << option_error(e, desc) << "\n(see usher " << command
              << " --help)\n";
    return exit_bad_input;
  }
}

std::string option_error(const po::error& e, const po::options_description& desc) {
  auto* unknown = dynamic_cast<const po::unknown_option*>(&e);
  if (unknown == nullptr) return e.what();
  std::vector<std::string> names;
  for (auto& o : desc.options())
    if (!o->long_name().empty()) names.push_back("--" + o->long_name());
  return e.what() + policies::did_you_mean(unknown->get_option_name(), names);
}

policies::usec duration_option(const std::string& option, const std::string& text) {
  policies::usec t = 0;
  bool unit_error = false;
  if (!policies::parse_duration(text, t, unit_error))
    throw policies::input_error::at(
        option, 0, "",
        "expected a duration such as 60, 90s, 1m or 1h, got " + policies::quoted(text));
  return t;
}

void keep_freed_memory() {
  ::mallopt(M_MMAP_THRESHOLD, 64 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

int report_errors(const std::string& command, const std::function<int()>& body) {
  try {
    return body();
  } catch (const policies::input_error& e) {
    std::cerr << "usher " << command << ": " << e.what() << "\n";
    return exit_bad_input;
  } catch (const std::exception& e) {
    std::cerr << "usher " << command << ": " << e.what() << "\n";
    return exit_failure;
  }
}

void add_client_options(boost::program_options::options_description& d, std::string& workload,
                        std::vector<std::string>& clients, std::string& stop, const std::string& client_note) {
  namespace po = boost::program_options;
  d.add_options()("workload", po::value(&workload),
                  "workload file: client behaviours per account, optionally with a trace "
                  "(docs/WORKLOADS.md)")(
      "client", po::value(&clients)->composing(),
      ("NAME:key=value,...: a group of generated clients (repeatable; keys as in a workload file's "
       "[clients.NAME])" + client_note).c_str())(
      "stop", po::value(&stop),
      "generated clients start no new requests after this: seconds or 30m, 1h (default 1h)");
}

}  // namespace usher::tools
