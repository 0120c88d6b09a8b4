#include "tools/parallel_runs.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace usher::tools {

using policies::usec;

namespace {

std::string clock_text(usec t) {
  long long s = t / policies::usec_per_second;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

}  // namespace

progress_line::progress_line(std::string command, std::string unit, std::size_t total, usec span,
                             std::size_t slots, bool force)
    : command_(std::move(command)),
      unit_(std::move(unit)),
      total_(total),
      span_(span),
      slots_(slots),
      reached_(new std::atomic<usec>[slots == 0 ? 1 : slots]),
      enabled_(force || ::isatty(STDERR_FILENO) == 1) {
  for (std::size_t i = 0; i < (slots == 0 ? 1 : slots); ++i) reached_[i] = -1;
}

progress_line::~progress_line() { clear(); }

std::string progress_line::text(std::size_t done, double elapsed_s) const {
  std::string count;  // none without a unit: one run, whose simulated time says it all
  if (!unit_.empty()) {
    count = std::to_string(done);
    if (total_ > 0) count += "/" + std::to_string(total_);
    count += " " + unit_ + " done";
  }
  std::string times;
  double running = 0;  // units of work the running slots have done
  for (std::size_t i = 0; i < slots_; ++i) {
    usec t = reached_[i].load(std::memory_order_relaxed);
    if (t < 0) continue;
    times += (times.empty() ? "" : ", ") + clock_text(t);
    if (span_ > start_)
      running += std::clamp(static_cast<double>(t - start_) / static_cast<double>(span_ - start_), 0.0, 1.0);
  }
  if (!times.empty()) {
    times = "simulated " + times;
    if (span_ > 0) times += " of " + clock_text(span_);
  }
  // The share of the whole job done: units over the total, or for one run
  // its simulated time over the span.
  double share = -1;
  if (total_ > 0) share = (static_cast<double>(done) + running) / static_cast<double>(total_);
  else if (unit_.empty() && span_ > start_) share = running;
  std::string left;
  if (share > 0 && share < 1 && elapsed_s >= 2) {
    auto seconds = static_cast<usec>(elapsed_s * (1 - share) / share + 0.5);
    left = "about " + clock_text(seconds * policies::usec_per_second) + " left";
  }
  std::string line = command_ + ":";
  if (!count.empty()) line += " " + count + (times.empty() && left.empty() ? "" : ";");
  if (!times.empty()) line += " " + times + (left.empty() ? "" : ";");
  if (!left.empty()) line += " " + left;
  return line;
}

void progress_line::draw(std::size_t done) {
  if (!enabled_) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  // \r and erase-to-end: the line overwrites itself.
  std::fprintf(stderr, "\r%s\033[K", text(done, elapsed).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void progress_line::clear() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

void run_parallel(std::size_t count, std::size_t jobs,
                  const std::function<void(std::size_t, std::size_t)>& task,
                  progress_line* progress) {
  if (jobs == 0) jobs = 1;
  if (jobs > count) jobs = count == 0 ? 1 : count;
  std::mutex m;
  std::condition_variable changed;
  std::size_t next = 0, done = 0, running = 0;
  bool failed = false;
  std::size_t failed_index = count;
  std::exception_ptr error;

  auto worker = [&](std::size_t slot) {
    for (;;) {
      std::size_t index;
      {
        std::lock_guard<std::mutex> lock(m);
        if (failed || next >= count) return;
        index = next++;
        ++running;
      }
      std::exception_ptr e;
      try {
        task(index, slot);
      } catch (...) {
        e = std::current_exception();
      }
      if (progress) progress->reached(slot).store(-1, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> lock(m);
        --running;
        ++done;
        if (e && index < failed_index) {
          failed = true;
          failed_index = index;
          error = e;
        }
      }
      changed.notify_all();
    }
  };

  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < jobs; ++i) threads.emplace_back(worker, i);
  {
    std::unique_lock<std::mutex> lock(m);
    while (done < count && !(failed && running == 0)) {
      changed.wait_for(lock, std::chrono::milliseconds(250));
      if (progress) {
        std::size_t d = done;
        lock.unlock();
        progress->draw(d);
        lock.lock();
      }
    }
  }
  for (auto& t : threads) t.join();
  if (progress) progress->clear();
  if (error) std::rethrow_exception(error);
}

std::size_t default_jobs() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace usher::tools
