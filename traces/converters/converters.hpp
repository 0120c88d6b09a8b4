#pragma once
/// `usher trace convert`: public request traces into usher's trace CSV.
/// One converter per file in this folder; docs/TRACES.md describes each
/// source, its mapping to (arrival, account, model, duration) and options.
///
/// Every converter reads its source in one pass with bounded memory (the
/// per-request traces row by row; azure-functions minute by minute and
/// servegen window by window, sorting only within the minute or window),
/// writes rows sorted by arrival_s, and is deterministic by seed. Bad
/// input throws policies::input_error naming file, line and field; the
/// caller writes to a staging name and keeps nothing of a failed run
/// (tools/staged_files.hpp).

#include <string>
#include <vector>

#include "traces/converters/convert_options.hpp"

namespace usher::traces {

/// The formats `--from` accepts, in the order help lists them.
const std::vector<std::string>& convert_formats();

/// Converts options.input, in `format`, to options.output. Throws
/// input_error for an unknown format, a bad option for that format, or
/// bad input.
convert_result convert_trace(const std::string& format, const convert_options& options);

// -- one per source (each in its own .cpp) --

/// Azure LLM inference 2023 (Splitwise): TIMESTAMP, ContextTokens, GeneratedTokens.
convert_result convert_azure_llm(const convert_options& options);
/// Mooncake FAST'25: JSONL with timestamp (ms), input_length, output_length.
convert_result convert_mooncake(const convert_options& options);
/// Alibaba GenTD26 LoRA serving: gmt_create, exec_time_seconds, groupId, ...
convert_result convert_gentd26(const convert_options& options);
/// Azure Functions 2019 (invitro sample): per-minute counts + duration percentiles.
convert_result convert_azure_functions(const convert_options& options);
/// ServeGen: per-client 600 s windows of rate and inter-arrival distribution.
convert_result convert_servegen(const convert_options& options);
/// nginx, Envoy, JSON-lines and logfmt access logs, fields named by --map.
convert_result convert_access_log(const convert_options& options);

/// Throws input_error unless options.cost is "none" or one of `allowed`.
void check_cost_mode(const convert_options& options, const std::vector<std::string>& allowed,
                     const std::string& format);

}  // namespace usher::traces
