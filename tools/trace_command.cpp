/// `usher trace convert|gen|stats`: the command lines of the trace tools.
/// The work is in traces/ (converters/, trace_generator, trace_stats); this
/// file parses options and maps errors to exit codes: 2 for bad input or
/// options (the message names file, line and field), 1 for anything else.
/// docs/TRACES.md documents every option with examples.

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "policies/closest_match.hpp"
#include "policies/input_error.hpp"
#include "tools/command_line.hpp"
#include "tools/commands.hpp"
#include "tools/staged_files.hpp"
#include "traces/converters/converters.hpp"
#include "traces/trace_generator.hpp"
#include "traces/trace_stats.hpp"

namespace usher::tools {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using policies::input_error;

namespace {

const char* trace_usage =
    "usage: usher trace <command> [options]\n"
    "\n"
    "commands:\n"
    "  convert   turn a public trace into an usher trace (usher trace convert --help)\n"
    "  gen       generate a synthetic trace (usher trace gen --help; also: generate)\n"
    "  stats     rows, span, accounts, busiest accounts, peak concurrency of a trace\n"
    "\n"
    "Docs: docs/TRACES.md.\n";

// Parses `args` into `vm`; returns -1 to go on, else the exit code.
int parse(const std::string& name, const std::vector<std::string>& args,
          const po::options_description& desc, po::variables_map& vm,
          const po::positional_options_description* positional = nullptr) {
  try {
    auto parser = po::command_line_parser(args).options(desc).style(
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << desc;
      return exit_ok;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "usher trace " << name << ": " << option_error(e, desc) << "\n(see usher trace "
              << name << " --help)\n";
    return exit_bad_input;
  }
  return -1;
}

// Runs `work`, mapping errors to exit codes.
template <class Work>
int guarded(const std::string& name, Work work) {
  try {
    work();
    return exit_ok;
  } catch (const input_error& e) {
    std::cerr << "usher trace " << name << ": " << e.what() << "\n";
    return exit_bad_input;
  } catch (const std::exception& e) {
    std::cerr << "usher trace " << name << ": " << e.what() << "\n";
    return exit_failure;
  }
}

// The trace file a command writes, replaced only once all of it is written
// (tools/staged_files.hpp): a failed rerun keeps the earlier file.
staged_files stage_output(const std::string& path) {
  fs::path p(path);
  return staged_files(p.has_parent_path() ? p.parent_path() : fs::path("."),
                      std::vector<std::string>{p.filename().string()});
}

policies::usec seconds_option(const std::string& option, const std::string& text) {
  policies::usec t = 0;
  if (!policies::parse_seconds(text, t))
    throw input_error::at(option, 0, "", policies::seconds_error(text));
  return t;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

int convert(const std::vector<std::string>& args) {
  traces::convert_options o;
  std::string format, from_s = "0", to_s, overhead = "0.2", prefill = "0.0002", decode = "0.03";
  std::string status = "all", models, lease_ttl = "30s";
  std::vector<std::string> model_map, field_map;
  bool quiet = false;
  std::string formats;
  for (auto& f : traces::convert_formats()) formats += (formats.empty() ? "" : ", ") + f;

  po::options_description d("usher trace convert --from FORMAT IN OUT [options]");
  d.add_options()("help,h", "show this help")("from", po::value(&format)->required(),
                                              ("source format: " + formats).c_str())(
      "input", po::value(&o.input)->required(), "IN: the source file (gzip or plain)")(
      "output", po::value(&o.output)->required(), "OUT: the usher trace CSV to write");
  po::options_description time("time");
  time.add_options()("time-scale", po::value(&o.time_scale),
                     "multiply output arrival times by X (default 1; durations unchanged)")(
      "from-s", po::value(&from_s), "keep source times >= A seconds (default 0)")(
      "to-s", po::value(&to_s), "keep source times < B seconds (default: all); output starts at A");
  po::options_description who("accounts and models");
  who.add_options()("accounts", po::value(&o.accounts),
                    "N synthetic accounts: drawn per request for sources without accounts "
                    "(default 10), or source accounts mapped onto N")(
      "zipf", po::value(&o.zipf), "Zipf exponent of synthetic accounts (default 1; 0 uniform)")(
      "seed", po::value(&o.seed), "random seed (default 1)")(
      "account", po::value(&o.account), "give every row this account")("model", po::value(&o.model),
                                                                       "give every row this model")(
      "model-map", po::value(&model_map)->composing(), "FROM=TO: rename a model (repeatable)");
  po::options_description service(
      "durations of token-only traces: overhead + prefill x input + decode x output");
  service.add_options()("overhead", po::value(&overhead), "seconds per request (default 0.2)")(
      "prefill-per-token", po::value(&prefill), "seconds per input token (default 0.0002)")(
      "decode-per-token", po::value(&decode), "seconds per output token (default 0.03)")(
      "cost", po::value(&o.cost),
      "write a cost column: none (default), tokens (input + output), images-steps (gentd26)");
  po::options_description specific("format-specific");
  specific.add_options()("status", po::value(&status),
                         "gentd26, access-log: all (default; failed rows get fail=1) or succeed")(
      "durations", po::value(&o.durations_file),
      "azure-functions: duration percentiles (default: 1350_run.csv next to IN)")(
      "rate-scale", po::value(&o.rate_scale),
      "servegen: multiply the published rates by X (default 0.001)")(
      "models", po::value(&models), "servegen: comma-separated models to keep (default all)")(
      "token-stats", po::value(&o.token_stats),
      "servegen: servegen_client_token_stats.csv.gz for per-client token counts")(
      "mean-input-tokens", po::value(&o.mean_input_tokens),
      "servegen without --token-stats: mean input tokens (default 1000)")(
      "mean-output-tokens", po::value(&o.mean_output_tokens),
      "servegen without --token-stats: mean output tokens (default 250)")(
      "log-format", po::value(&o.log_format),
      "access-log: combined (nginx), envoy, json, logfmt, usher (usher serve's access log), "
      "nginx:PATTERN or envoy:PATTERN")(
      "map", po::value(&field_map)->composing(),
      "access-log: KEY=FIELD,... for arrival, duration, account, model, status (repeatable)")(
      "time-format", po::value(&o.time_format),
      "access-log: auto (default), clf, iso8601, epoch or epoch-ms")(
      "duration-unit", po::value(&o.duration_unit),
      "access-log: s, ms or us (default: ms for envoy, else s)")(
      "log-time", po::value(&o.log_time),
      "access-log: the line's time is the request's start or end (default: end for nginx)")(
      "lease-ttl", po::value(&lease_ttl),
      "access-log --log-format usher: a lease never released in the log ends this long after "
      "its last renew (default 30s, as usher serve)")(
      "quiet,q", po::bool_switch(&quiet), "print nothing on success");
  d.add(time).add(who).add(service).add(specific);
  po::positional_options_description pos;
  pos.add("input", 1).add("output", 1);
  po::variables_map vm;
  if (int code = parse("convert", args, d, vm, &pos); code >= 0) return code;

  return guarded(
      "convert",
      [&] {
        bool known = false;
        for (auto& f : traces::convert_formats()) known = known || f == format;
        if (!known)
          throw input_error::at(
              "--from", 0, "",
              "unknown format " + policies::quoted(format) + " (expected " + formats + ")");
        o.from = seconds_option("--from-s", from_s);
        if (!to_s.empty()) o.to = seconds_option("--to-s", to_s);
        if (o.to <= o.from) throw input_error::at("--to-s", 0, "", "must be greater than --from-s");
        if (!(o.time_scale > 0))
          throw input_error::at("--time-scale", 0, "", "expected a positive number");
        if (!(o.zipf >= 0)) throw input_error::at("--zipf", 0, "", "expected a number >= 0");
        o.service.overhead = seconds_option("--overhead", overhead);
        o.service.prefill_per_token = seconds_option("--prefill-per-token", prefill);
        o.service.decode_per_token = seconds_option("--decode-per-token", decode);
        if (status != "all" && status != "succeed")
          throw input_error::at("--status", 0, "",
                                "expected all or succeed, got " + policies::quoted(status));
        o.succeed_only = status == "succeed";
        if (vm.count("status") && format != "gentd26" && format != "access-log")
          throw input_error::at("--status", 0, "", "applies to gentd26 and access-log only");
        if (vm.count("lease-ttl") && o.log_format != "usher")
          throw input_error::at("--lease-ttl", 0, "", "applies to --log-format usher only");
        {
          bool unit_error = false;
          if (!policies::parse_duration(lease_ttl, o.lease_ttl, unit_error) || o.lease_ttl <= 0)
            throw input_error::at("--lease-ttl", 0, "",
                                  "expected a positive duration (30s, 2m), got " +
                                      policies::quoted(lease_ttl));
        }
        for (auto& item : field_map)
          for (auto& m : split_list(item)) {
            auto eq = m.find('=');
            if (eq == std::string::npos || eq == 0)
              throw input_error::at("--map", 0, "",
                                    "expected KEY=FIELD, got " + policies::quoted(m));
            o.field_map.emplace_back(m.substr(0, eq), m.substr(eq + 1));
          }
        for (auto& m : model_map) {
          auto eq = m.find('=');
          if (eq == std::string::npos || eq == 0)
            throw input_error::at("--model-map", 0, "",
                                  "expected FROM=TO, got " + policies::quoted(m));
          o.model_map.emplace_back(m.substr(0, eq), m.substr(eq + 1));
        }
        o.models = split_list(models);
        std::error_code ec;
        if (fs::exists(o.output, ec) && fs::equivalent(o.input, o.output, ec))
          throw input_error::in(o.output, "is the input file; choose another output");
        std::string target = o.output;
        auto staged = stage_output(target);
        o.output = staged.file(fs::path(target).filename().string());
        auto result = traces::convert_trace(format, o);
        staged.commit();
        o.output = target;
        for (auto& warning : result.warnings) std::cerr << "warning: " << warning << "\n";
        if (quiet) return;
        for (auto& note : result.notes) std::cerr << "note: " << note << "\n";
        std::cout << "wrote " << result.rows << " rows to " << o.output << " (arrivals "
                  << policies::format_seconds(result.first) << " .. "
                  << policies::format_seconds(result.last) << " s; " << result.source_records
                  << " source records read)\n";
      });
}

int gen(const std::vector<std::string>& args) {
  traces::generator_options o;
  std::string out, span = "3600", hours = "9-17", on = "60", off = "240", mean = "10", models;
  bool quiet = false;
  po::options_description d("usher trace gen --out FILE [options]");
  d.add_options()("help,h", "show this help")("out", po::value(&out)->required(),
                                              "the usher trace CSV to write")(
      "span", po::value(&span), "trace length in seconds (default 3600)")(
      "rate", po::value(&o.rate), "requests per second while active (default 1)")(
      "pattern", po::value(&o.pattern), "poisson (default), diurnal or onoff")(
      "business-hours", po::value(&hours),
      "diurnal: START-END hours of each day at --rate (default 9-17)")(
      "off-hours-factor", po::value(&o.off_hours_factor),
      "diurnal: rate outside business hours = rate x F (default 0.2)")(
      "on-s", po::value(&on), "onoff: mean ON period in seconds (default 60)")(
      "off-s", po::value(&off), "onoff: mean OFF period in seconds, no arrivals (default 240)")(
      "accounts", po::value(&o.accounts), "accounts acct-01..acct-N (default 10)")(
      "zipf", po::value(&o.zipf), "Zipf exponent of the accounts' shares (default 1; 0 uniform)")(
      "models", po::value(&models),
      "model mix NAME:WEIGHT[:MEAN_S],... (default llama-3.1-70b-instruct)")(
      "duration-dist", po::value(&o.duration_dist), "exp (default) or lognormal")(
      "mean-duration", po::value(&mean), "mean duration in seconds (default 10)")(
      "cv", po::value(&o.cv), "lognormal: coefficient of variation, sd / mean (default 1)")(
      "seed", po::value(&o.seed), "random seed (default 1)")("quiet,q", po::bool_switch(&quiet),
                                                             "print nothing on success");
  po::variables_map vm;
  if (int code = parse("gen", args, d, vm); code >= 0) return code;
  return guarded(
      "gen",
      [&] {
        o.span = seconds_option("--span", span);
        o.mean_duration = seconds_option("--mean-duration", mean);
        o.on_mean = seconds_option("--on-s", on);
        o.off_mean = seconds_option("--off-s", off);
        auto dash = hours.find('-');
        try {
          if (dash == std::string::npos) throw std::invalid_argument(hours);
          std::size_t used = 0;
          o.business_start_hour = std::stoi(hours.substr(0, dash), &used);
          if (used != dash) throw std::invalid_argument(hours);
          o.business_end_hour = std::stoi(hours.substr(dash + 1), &used);
          if (used != hours.size() - dash - 1) throw std::invalid_argument(hours);
        } catch (const std::logic_error&) {
          throw input_error::at("--business-hours", 0, "",
                                "expected START-END such as 9-17, got " + policies::quoted(hours));
        }
        if (!models.empty()) o.models = traces::parse_model_mix(models, "--models");
        traces::validate(o);
        auto staged = stage_output(out);
        auto rows = traces::generate_trace(o, staged.file(fs::path(out).filename().string()));
        staged.commit();
        if (!quiet) std::cout << "wrote " << rows << " rows to " << out << "\n";
      });
}

int stats(const std::vector<std::string>& args) {
  std::string file;
  std::size_t top = 10;
  po::options_description d("usher trace stats FILE [options]");
  d.add_options()("help,h", "show this help")("file", po::value(&file)->required(),
                                              "FILE: an usher trace CSV (gzip or plain)")(
      "top", po::value(&top), "accounts listed, busiest first (default 10)");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (int code = parse("stats", args, d, vm, &pos); code >= 0) return code;
  return guarded("stats", [&] {
    std::cout << traces::format_trace_stats(traces::compute_trace_stats(file, top));
  });
}

}  // namespace

int trace_command(const std::vector<std::string>& args) {
  // `usher trace help CMD` is `usher trace CMD --help`.
  if (args.size() > 1 && args[0] == "help") {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    rest.push_back("--help");
    return trace_command(rest);
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    (args.empty() ? std::cerr : std::cout) << trace_usage;
    return args.empty() ? exit_bad_input : exit_ok;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "convert") return convert(rest);
  if (args[0] == "gen" || args[0] == "generate") return gen(rest);
  if (args[0] == "stats") return stats(rest);
  std::cerr << "usher trace: unknown command " << policies::quoted(args[0])
            << policies::did_you_mean(args[0], {"convert", "gen", "stats"}) << "\n\n"
            << trace_usage;
  return exit_bad_input;
}

}  // namespace usher::tools
