#include "tools/node_logs.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <spdlog/details/file_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "tools/serve_config.hpp"

namespace usher::tools {

namespace {

// A file opened for appending that reopen() opens again under its path,
// as logrotate expects of a daemon (nginx -s reopen): the new file is opened
// before the old one is closed, so a failed reopen loses no line.
class reopenable_file_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit reopenable_file_sink(std::string path) : path_(std::move(path)) { file_ = open(); }

  // Empty on success, else why the file could not be opened.
  std::string reopen() {
    std::unique_ptr<spdlog::details::file_helper> fresh;
    try {
      fresh = open();
    } catch (const std::exception& e) {
      return e.what();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    file_->flush();
    file_ = std::move(fresh);
    return {};
  }

  const std::string& path() const { return path_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t out;
    formatter_->format(msg, out);
    file_->write(out);
  }
  void flush_() override { file_->flush(); }

 private:
  std::unique_ptr<spdlog::details::file_helper> open() const {
    auto f = std::make_unique<spdlog::details::file_helper>();
    f->open(path_, false);
    return f;
  }

  std::string path_;
  std::unique_ptr<spdlog::details::file_helper> file_;
};

// True when stderr is the journal (systemd sets JOURNAL_STREAM to its
// device:inode): journald then reads a "<N>" syslog priority prefix and
// stamps the time itself.
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (!js || ::fstat(2, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) &&
         ino == static_cast<unsigned long long>(st.st_ino);
}

// %* : the syslog priority of the line's level (debug 7, info 6, warn 4, error 3).
class syslog_priority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    char p = '6';
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: p = '7'; break;
      case spdlog::level::warn: p = '4'; break;
      case spdlog::level::err: p = '3'; break;
      case spdlog::level::critical: p = '2'; break;
      default: break;
    }
    dest.push_back(p);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<syslog_priority>();
  }
};

// The error log's lines: `2026-12-04T10:00:00.123Z [warning] usher serve: ...`,
// or `<4>[warning] usher serve: ...` for the journal.
std::unique_ptr<spdlog::formatter> error_format(bool journal) {
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  f->add_flag<syslog_priority>('*');
  f->set_pattern(journal ? "<%*>[%l] usher serve: %v" : "%Y-%m-%dT%H:%M:%S.%eZ [%l] usher serve: %v");
  return f;
}

spdlog::sink_ptr open_sink(const std::string& target, const char* setting) {
  if (target == "stderr") return std::make_shared<spdlog::sinks::stderr_sink_mt>();
  try {
    return std::make_shared<reopenable_file_sink>(target);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(setting) + ": cannot open \"" + target +
                             "\" for appending: " + e.what());
  }
}

}  // namespace

std::shared_ptr<spdlog::logger> stderr_error_log() {
  auto log = std::make_shared<spdlog::logger>("error",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
  log->set_formatter(error_format(stderr_is_journal()));
  log->set_level(spdlog::level::info);
  log->flush_on(spdlog::level::trace);
  return log;
}

node_logs open_node_logs(const node_config& c) {
  node_logs logs;
  auto error_sink = open_sink(c.error_log, "error_log");
  logs.error = std::make_shared<spdlog::logger>("error", error_sink);
  logs.error->set_formatter(error_format(c.error_log == "stderr" && stderr_is_journal()));
  logs.error->set_level(spdlog::level::from_str(c.log_level));  // "warn" -> warn, ...
  logs.error->flush_on(spdlog::level::trace);  // few lines: each is written at once
  if (c.access_log != "off") {
    // A sink of its own even for the error log's file: a sink has one format.
    logs.access = std::make_shared<spdlog::logger>("access", open_sink(c.access_log, "access_log"));
    // The edge hands over whole lines, batched: written as they are.
    logs.access->set_formatter(
        std::make_unique<spdlog::pattern_formatter>("%v", spdlog::pattern_time_type::utc, ""));
    logs.access->flush_on(spdlog::level::trace);  // a batch is one write
  }
  return logs;
}

std::vector<std::string> node_logs::reopen() {
  std::vector<std::string> errors;
  std::vector<reopenable_file_sink*> done;
  for (auto* log : {error.get(), access.get()}) {
    if (!log) continue;
    for (auto& s : log->sinks()) {
      auto* f = dynamic_cast<reopenable_file_sink*>(s.get());
      if (!f || std::find(done.begin(), done.end(), f) != done.end()) continue;
      done.push_back(f);
      if (auto e = f->reopen(); !e.empty()) errors.push_back(f->path() + ": " + e);
    }
  }
  return errors;
}

}  // namespace usher::tools
