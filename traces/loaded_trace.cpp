#include "traces/loaded_trace.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <thread>

#include "policies/input_error.hpp"
#include "traces/trace_reader.hpp"

namespace usher::traces {

using namespace policies;

namespace {

// A plain file mapped read-only, or nothing (text() empty) when it cannot
// be: standard input, not a regular file, empty. The caller then reads
// serially, and the serial reader says what is wrong, if anything. Mapped,
// not read: reading a 12 MB trace into memory first cost a one-variant
// sweep 15 % more time. (A file truncated by another process while it is
// read this way ends the process with SIGBUS; docs/WHATIF.md says so.)
class mapped_file {
 public:
  explicit mapped_file(const std::string& path) {
    if (path.empty() || path == "-") return;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        data_ = static_cast<const char*>(p);
        size_ = static_cast<std::size_t>(st.st_size);
        ::madvise(p, size_, MADV_SEQUENTIAL);
      }
    }
    ::close(fd);
  }
  ~mapped_file() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  std::string_view text() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// Runs f(0) .. f(n - 1) at once: f(0) on this thread, the others on threads
// of their own, or here too when no thread can be had.
template <class F>
void run_at_once(std::size_t n, F f) {
  std::vector<std::thread> others;
  std::size_t k = 1;
  try {
    for (; k < n; ++k) others.emplace_back(f, k);
  } catch (const std::system_error&) {
    for (; k < n; ++k) f(k);
  }
  f(0);
  for (auto& t : others) t.join();
}

// Reads every row of `reader` into `out`, labels dropped (memory stays at
// the rows). Returns false on bad input, with the message in `error`.
bool read_rows(trace_reader& reader, std::vector<loaded_trace::row>& out, std::string& error) {
  // Small chunks, made once: the rows go on at once into `out`.
  constexpr std::size_t chunk_rows = 4096;
  std::vector<arrival> chunk;
  std::vector<std::int64_t> costs;
  chunk.reserve(chunk_rows);
  costs.reserve(chunk_rows);
  for (;;) {
    chunk.clear();
    costs.clear();
    if (!reader.read(chunk, chunk_rows, error, &costs)) return false;
    if (chunk.empty()) return true;
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const arrival& a = chunk[i];
      reader.take_label();
      loaded_trace::row r;
      r.at = a.at;
      r.duration = a.duration;
      r.own_cost = costs[i];
      r.account = a.req.account;
      r.model = a.req.model;
      r.product = a.req.product;
      r.conn = static_cast<std::uint32_t>(a.req.conn);
      r.what = a.req.what;
      r.fail = a.fail;
      out.push_back(r);
    }
  }
}

// Whether `line` is one the CSV parser skips as empty (only blanks).
bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

loaded_trace::loaded_trace(const std::string& path, std::size_t threads) : path_(path) {
  if (threads > 1 && read_in_pieces(threads)) return;
  read_serially();
}

void loaded_trace::read_serially() {
  // A plan that names no model: the reader then interns models in order of
  // first appearance, and each plan_view maps them to its plan's ids.
  trace_reader reader(path_, plan::build("streams", {}));
  std::string error;
  if (!read_rows(reader, rows_, error)) throw input_error::in("", error);
  for (std::uint32_t i = 0; i < reader.accounts().size(); ++i) accounts_.intern(reader.accounts().name(i));
  for (std::uint32_t i = 0; i < reader.models().size(); ++i) models_.intern(reader.models().name(i));
}

bool loaded_trace::read_in_pieces(std::size_t threads) {
  mapped_file file(path_);
  auto text = file.text();
  // gzip is read as a stream; a file whose first line is blank (the header
  // comes later) is rare enough to leave to the serial reader.
  if (text.size() < 2 || (text[0] == '\x1f' && text[1] == '\x8b')) return false;
  auto header_end = text.find('\n');
  if (header_end == std::string_view::npos || blank(text.substr(0, header_end))) return false;
  auto header = text.substr(0, header_end);
  auto body = text.substr(header_end + 1);

  // Pieces end just after a '\n' near each k/threads of the body.
  std::vector<std::string_view> bodies;
  std::size_t begin = 0;
  for (std::size_t k = 1; k <= threads && begin < body.size(); ++k) {
    std::size_t end = body.size();
    if (k < threads) {
      auto nl = body.find('\n', std::max(begin, body.size() / threads * k));
      end = nl == std::string_view::npos ? body.size() : nl + 1;
    }
    bodies.push_back(body.substr(begin, end - begin));
    begin = end;
  }
  if (bodies.size() < 2) return false;

  struct piece {
    std::unique_ptr<trace_reader> reader;
    std::vector<row> rows;
    bool ok = false;
  };
  std::vector<piece> pieces(bodies.size());
  auto neutral = plan::build("streams", {});
  auto read_piece = [&](std::size_t k) {
    try {
      // One row a line at most: no growing and copying as rows come.
      pieces[k].rows.reserve(static_cast<std::size_t>(
          std::count(bodies[k].begin(), bodies[k].end(), '\n') + 1));
      pieces[k].reader = std::make_unique<trace_reader>(path_, header, bodies[k], neutral);
      std::string error;
      pieces[k].ok = read_rows(*pieces[k].reader, pieces[k].rows, error);
    } catch (...) {
      pieces[k].ok = false;  // the serial read says what it is
    }
  };
  run_at_once(pieces.size(), read_piece);

  std::size_t total = 0;
  usec last = 0;
  for (auto& p : pieces) {
    if (!p.ok) return false;
    if (p.rows.empty()) continue;
    // Sorted within each piece; across a seam too, or the serial read reports it.
    if (p.rows.front().at < last) return false;
    last = p.rows.back().at;
    total += p.rows.size();
  }

  // Names numbered in piece order: the order of first appearance in the
  // file; then each piece's rows renumbered into place, the pieces at once.
  struct renumbering {
    std::vector<id> account, model, product, conn;
    std::size_t at = 0;  ///< where its rows go in rows_
  };
  auto map = [](const interner& local, interner& global) {
    std::vector<id> ids(local.size());
    for (std::uint32_t i = 0; i < local.size(); ++i) ids[i] = global.intern(local.name(i));
    return ids;
  };
  interner products, connections;
  std::vector<renumbering> maps(pieces.size());
  std::size_t at = 0;
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    auto& r = *pieces[k].reader;
    maps[k] = renumbering{map(r.accounts(), accounts_), map(r.models(), models_),
                          map(r.products(), products), map(r.connections(), connections), at};
    at += pieces[k].rows.size();
  }
  rows_.resize(total);
  auto place = [&](std::size_t k) {
    auto& m = maps[k];
    row* out = rows_.data() + m.at;
    for (row r : pieces[k].rows) {
      r.account = m.account[r.account];
      if (r.model != no_id) r.model = m.model[r.model];
      if (r.product != no_id) r.product = m.product[r.product];
      if (on_connection(r.what)) r.conn = m.conn[r.conn];
      *out++ = r;
    }
    pieces[k] = piece();  // its memory goes now
  };
  run_at_once(pieces.size(), place);
  return true;
}

loaded_trace::plan_view::plan_view(const loaded_trace& trace, std::shared_ptr<const plan> p,
                                   const std::vector<std::string>& first_accounts,
                                   const std::vector<std::string>& first_models)
    : trace_(trace), plan_(std::move(p)) {
  // The ids trace_reader would give under this plan: the first names, then
  // the trace's in order of first appearance; models after the plan's own.
  for (auto& a : first_accounts) accounts_.intern(a);
  account_id_.reserve(trace.accounts_.size());
  for (std::uint32_t i = 0; i < trace.accounts_.size(); ++i)
    account_id_.push_back(accounts_.intern(trace.accounts_.name(i)));
  profile_by_account_.reserve(accounts_.size());
  for (std::uint32_t i = 0; i < accounts_.size(); ++i)
    profile_by_account_.push_back(plan_->profile_of(accounts_.name(i)));
  for (auto& m : plan_->named_models()) models_.intern(m);
  for (auto& m : first_models) models_.intern(m);
  model_id_.reserve(trace.models_.size());
  for (std::uint32_t i = 0; i < trace.models_.size(); ++i)
    model_id_.push_back(models_.intern(trace.models_.name(i)));
}

void loaded_trace::plan_view::read(std::vector<arrival>& out, std::size_t max) {
  const auto& rows = trace_.rows_;
  std::size_t end = std::min(rows.size(), next_ + max);
  for (; next_ < end; ++next_) {
    const row& r = rows[next_];
    arrival a;
    a.req.seq = next_;
    a.req.account = account_id_[r.account];
    a.req.model = r.model == no_id ? no_id : model_id_[r.model];
    a.req.product = r.product;
    a.req.conn = r.conn;
    a.req.what = r.what;
    a.at = r.at;
    a.duration = r.duration;
    a.fail = r.fail;
    a.profile = profile_by_account_[a.req.account];
    a.req.cost = plan_->cost_of(a.profile, a.req.model, r.own_cost);
    reached_ = r.at;
    out.push_back(a);
  }
}

}  // namespace usher::traces
