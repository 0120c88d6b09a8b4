#include "tools/command_line.hpp"

#include <iostream>

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
    std::cerr << "usher " << command << ": " << e.what() << "\n(see usher " << command
              << " --help)\n";
    return exit_bad_input;
  }
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

}  // namespace usher::tools
