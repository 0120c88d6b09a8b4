// Alibaba GenTD26 (alibaba/clusterdata, cluster-trace-v2026-GenAI):
// Stable-Diffusion/LoRA serving, one row per request. arrival = gmt_create
// - first gmt_create (1 s resolution); account = groupId; model =
// checkpoint_model_version_id; duration = exec_time_seconds, as measured.
// Every row is kept by default (FAILED rows get fail = 1, so a simulation
// ends them in 500 after their measured time); --status succeed keeps only
// SUCCEED rows. --cost images-steps writes num_images_per_prompt x
// num_inference_steps as the row's cost. Research or study use only.

#include "policies/input_error.hpp"
#include "traces/converters/civil_time.hpp"
#include "traces/converters/converters.hpp"
#include "traces/converters/trace_sink.hpp"
#include "traces/csv_table.hpp"

namespace usher::traces {

convert_result convert_gentd26(const convert_options& options) {
  check_cost_mode(options, {"images-steps"}, "gentd26");
  convert_result result;
  csv_table in(options.input);
  const char* expected =
      "gentd26 needs gmt_create, predict_status, exec_time_seconds, groupId, "
      "checkpoint_model_version_id";
  int created = in.require("gmt_create", expected);
  int status = in.require("predict_status", expected);
  int exec = in.require("exec_time_seconds", expected);
  int group = in.require("groupId", expected);
  int checkpoint = in.require("checkpoint_model_version_id", expected);
  bool with_cost = options.cost == "images-steps";
  int images = with_cost ? in.require("num_images_per_prompt", "--cost images-steps needs it") : -1;
  int steps = with_cost ? in.require("num_inference_steps", "--cost images-steps needs it") : -1;
  if (!options.succeed_only)
    result.notes.push_back(
        "status: kept rows of every predict_status (FAILED rows have fail=1; PENDING rows "
        "have duration 0); --status succeed keeps only SUCCEED rows");

  trace_sink sink(options, {with_cost, !options.succeed_only, false}, true, result);
  policies::usec first = 0, previous = 0;
  bool any = false;
  while (in.next()) {
    policies::usec t = 0;
    if (!parse_civil_time(in.text(created), t))
      in.fail(created, "expected a time like \"2024-11-15 16:57:50\", got " +
                           policies::quoted(std::string(in.text(created))));
    if (!any) first = previous = t;
    any = true;
    if (t < previous)
      in.fail(created,
              "rows must be sorted by time: " + policies::quoted(std::string(in.text(created))) +
                  " is earlier than the row before it");
    previous = t;
    ++result.source_records;
    if (sink.past(t - first)) break;
    auto state = in.text(status);
    if (options.succeed_only && state != "SUCCEED") continue;
    if (in.text(group).empty()) in.fail(group, "must not be empty");
    trace_row row;
    row.at = t - first;
    row.duration = in.seconds(exec);
    row.account = in.text(group);
    row.model = in.text(checkpoint);
    row.fail = state == "FAILED";
    if (with_cost && !in.text(images).empty() && !in.text(steps).empty())
      row.cost = in.count(images) * in.count(steps);
    sink.write(row);
  }
  sink.close();
  return result;
}

}  // namespace usher::traces
