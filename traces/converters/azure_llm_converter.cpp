// Azure LLM inference traces 2023 (Splitwise, Azure/AzurePublicDataset):
// one row per request with TIMESTAMP, ContextTokens and GeneratedTokens.
// arrival = TIMESTAMP - first TIMESTAMP; no accounts (synthetic ones are
// drawn); model = the file name's last '_' part ("code", "conv");
// duration = the service-time model on the token counts.

#include <cstring>
#include <filesystem>

#include "policies/input_error.hpp"
#include "traces/converters/civil_time.hpp"
#include "traces/converters/converters.hpp"
#include "traces/converters/trace_sink.hpp"
#include "traces/csv_table.hpp"

namespace usher::traces {

namespace {

// "AzureLLMInferenceTrace_conv.csv" -> "conv".
std::string model_from_file_name(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  for (const char* ext : {".gz", ".csv"})
    if (stem.size() > std::strlen(ext) &&
        stem.compare(stem.size() - std::strlen(ext), std::string::npos, ext) == 0)
      stem.resize(stem.size() - std::strlen(ext));
  auto underscore = stem.rfind('_');
  return underscore == std::string::npos ? stem : stem.substr(underscore + 1);
}

}  // namespace

convert_result convert_azure_llm(const convert_options& options) {
  check_cost_mode(options, {"tokens"}, "azure-llm");
  convert_result result;
  csv_table in(options.input);
  const char* expected = "azure-llm needs TIMESTAMP, ContextTokens, GeneratedTokens";
  int ts = in.require("TIMESTAMP", expected);
  int ctx = in.require("ContextTokens", expected);
  int gen = in.require("GeneratedTokens", expected);
  std::string model = model_from_file_name(options.input);

  trace_sink sink(options, {options.cost == "tokens", false, true}, false, result);
  policies::usec first = 0, previous = 0;
  while (in.next()) {
    policies::usec t = 0;
    if (!parse_civil_time(in.text(ts), t))
      in.fail(ts, "expected a time like \"2023-11-16 18:17:03.9799600\", got " +
                      policies::quoted(std::string(in.text(ts))));
    if (result.source_records == 0) first = previous = t;
    if (t < previous)
      in.fail(ts, "rows must be sorted by time: " + policies::quoted(std::string(in.text(ts))) +
                      " is earlier than the row before it");
    previous = t;
    ++result.source_records;
    if (sink.past(t - first)) break;
    trace_row row;
    row.at = t - first;
    row.input_tokens = in.count(ctx);
    row.output_tokens = in.count(gen);
    row.duration = options.service.of(row.input_tokens, row.output_tokens);
    row.cost = row.input_tokens + row.output_tokens;
    row.model = model;
    sink.write(row);
  }
  sink.close();
  return result;
}

}  // namespace usher::traces
