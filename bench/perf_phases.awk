# perf_phases.awk: where an `usher simulate` run spends its CPU time, by
# phase (reading the trace, simulating, ordering and writing outcomes, CAF),
# from a perf profile with call graphs (issue #2; docs/PERFORMANCE.md). Each
# sample counts for the first frame, leaf first, that names a phase.
#
# Run:
#   perf record -F 3000 --call-graph dwarf,32768 -o usher.perf -- \
#       build-bench/usher simulate --plan streams --set streams=10 \
#       --set queue.max_depth=5 --trace /tmp/usher-bench/mix-1m.csv \
#       --out /tmp/usher-bench/out-prof --quiet
#   perf script -i usher.perf -F ip,sym | awk -f bench/perf_phases.awk | sort -rn
BEGIN { RS = "" }
{
  n = split($0, L, "\n"); cat = "";
  for (i = 1; i <= n && cat == ""; i++) {
    f = L[i];
    if (f ~ /outcome_writer::write|csv_out::/) cat = "write outcomes.csv (outcome_writer, csv_out)";
    else if (f ~ /series_writer/) cat = "write timeseries.csv";
    else if (f ~ /trace_reader::/) cat = "read trace (trace_reader, fccp)";
    else if (f ~ /replay_shard::add/) cat = "copy rows into the shard (replay_shard::add)";
    else if (f ~ /usage_meter::/) cat = "simulate: usage meters";
    else if (f ~ /policies::engine::/) cat = "simulate: engine";
    else if (f ~ /policies::ledger::/) cat = "simulate: ledger (leases, waiters, events)";
    else if (f ~ /replay_shard::/) cat = "simulate: replay_shard loop";
    else if (f ~ /sweep_until/) cat = "client: peak sweep (sweep_until)";
    else if (f ~ /anonymous namespace.::flush|absorb/) cat = "client: order outcomes (flush heap)";
    else if (f ~ /pump|send_rows|peek|release_due/) cat = "client: batch rows (pump, send_rows)";
    else if (f ~ /account_actor|step/) cat = "account actor glue";
    else if (f ~ /make_summary|summary/) cat = "summary.json";
    else if (f ~ /caf::/) cat = "CAF runtime";
  }
  if (cat == "") cat = "other (startup, exit, kernel)";
  c[cat]++; total++;
}
END { for (k in c) printf "%6.1f%%  %s\n", 100 * c[k] / total, k; }
