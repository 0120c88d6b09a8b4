#pragma once
/// The process metrics of /metrics in the Prometheus convention (the names
/// and units client libraries export), read from /proc/self: CPU seconds,
/// resident and virtual memory, open and maximum file descriptors, start
/// time. Linux only; a file that cannot be read leaves its samples out.
/// Private to actors/http/.

#include <ostream>

namespace usher::actors::http {

/// Writes process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_max_fds (+Inf
/// when unlimited) and process_start_time_seconds, with HELP and TYPE.
void write_process_metrics(std::ostream& o);

}  // namespace usher::actors::http
