/// Fuzz target: the trace reader (traces/trace_reader.hpp) on the input as a
/// CSV trace file, under two plans (streams:team, and per-model, whose model
/// tables are interned first).
///
/// Oracles beyond "no crash, no leak, no UB":
///  - the only failure is policies::input_error from the constructor or
///    read() returning false; either names the file (a place) first;
///    any other exception is a finding;
///  - rows come out sorted by arrival, with non-negative times and costs no
///    higher than policies::max_cost (the usage meter's 64-bit integrals
///    overflow past it), one label per row;
///  - every arrival and duration survives format_seconds -> parse_seconds
///    exactly (the promise of policies/time.hpp that output re-reads).

#include <algorithm>
#include <atomic>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "policies/input_error.hpp"
#include "policies/time.hpp"
#include "traces/plan_file.hpp"
#include "traces/trace_reader.hpp"

using namespace usher;

namespace {

void check_place(const std::string& message, const std::string& path) {
  if (message.rfind(path, 0) != 0) fuzz::fail("an error without its file", message);
}

void read_all(const std::string& path, const std::shared_ptr<const policies::plan>& plan) {
  std::unique_ptr<traces::trace_reader> reader;
  try {
    reader = std::make_unique<traces::trace_reader>(path, plan);
  } catch (const policies::input_error& e) {
    check_place(e.what(), path);
    return;
  }
  std::vector<policies::arrival> rows;
  std::string error;
  policies::usec last = 0;
  for (;;) {
    rows.clear();
    std::vector<std::int64_t> own;
    bool ok = reader->read(rows, 7, error, &own);  // small chunks: the reader resumes
    if (!ok) {
      if (error.empty()) fuzz::fail("read() failed without a message");
      check_place(error, path);
      return;
    }
    if (own.size() != rows.size()) fuzz::fail("own costs out of step with rows");
    if (rows.empty()) return;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto& a = rows[i];
      if (a.at < last) fuzz::fail("rows out of order");
      if (a.at < 0 || a.duration < 0 || a.req.cost < 0 || own[i] < -1)
        fuzz::fail("a negative time or cost");
      if (a.req.cost > policies::max_cost) fuzz::fail("a cost over policies::max_cost");
      last = a.at;
      policies::usec back = -1;
      if (!policies::parse_seconds(policies::format_seconds(a.at), back) || back != a.at)
        fuzz::fail("arrival does not re-read", policies::format_seconds(a.at));
      if (!policies::parse_seconds(policies::format_seconds(a.duration), back) ||
          back != a.duration)
        fuzz::fail("duration does not re-read", policies::format_seconds(a.duration));
      auto label = reader->take_label();
      if (label.at != a.at || label.account != a.req.account) fuzz::fail("label out of step");
    }
  }
}

}  // namespace

// Speed: the CSV parser (libfccp) allocates a 48 MiB line buffer
// (3 x its 16 MiB block) for every reader. Under ASan each such allocation
// poisons and unpoisons 6 MiB of shadow and faults its pages in: two readers
// per input ran at 8 inputs/s. This process keeps one such buffer and hands
// it out again; every other array allocation is the usual malloc, so ASan
// still checks all of them.
//
// The buffer is handed out with its first bytes (past the largest input
// yet) set to '\n', the worst stale content: libfccp's LineReader::next_line
// reads buffer[data_end], one byte past the data, before its bounds check,
// and a '\n' there after a last line without one moved data_begin past
// data_end, so the next call scanned on to the buffer's end (a heap
// over-read this target found; traces/trace_reader.cpp now ends every file
// with a newline, so that byte is never read). Glibc's fresh pages are
// zero, which hid it; a reused buffer would not.
namespace {
constexpr std::size_t csv_buffer_size = std::size_t(3) << 24;
std::atomic<void*> csv_buffer{nullptr};
std::atomic<bool> csv_buffer_lent{false};
std::atomic<std::size_t> largest_input{0};
}  // namespace

void* operator new[](std::size_t n) {
  if (n == csv_buffer_size && !csv_buffer_lent.exchange(true)) {
    if (!csv_buffer.load()) csv_buffer = std::calloc(1, n);
    if (void* b = csv_buffer.load()) {
      std::memset(b, '\n', std::min(n, largest_input.load() + 4096));
      return b;
    }
    csv_buffer_lent = false;
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete[](void* p) noexcept {
  if (p != nullptr && p == csv_buffer.load()) {
    csv_buffer_lent = false;
    return;
  }
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept { operator delete[](p); }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::input_file file("trace.csv");
  static auto team = traces::load_plan("streams:team", {});
  static auto per_model = traces::load_plan("per-model", {});
  if (size > largest_input) largest_input = size;
  auto& path = file.write(data, size);
  for (auto* plan : {&team, &per_model}) try {
      read_all(path, *plan);
    } catch (const policies::input_error& e) {
      check_place(e.what(), path);
    } catch (const std::exception& e) {
      fuzz::fail("an exception other than input_error", e.what());
    }
  return 0;
}
