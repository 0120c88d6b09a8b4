#include "traces/loaded_trace.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
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
      void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ,
                       MAP_PRIVATE | MAP_POPULATE, fd, 0);
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

// Reads every row of `reader`, handing each to `emit`, and its label to
// `labels` when given (key ids of reader.keys()); otherwise labels are
// dropped and memory stays at the rows. Returns false on bad input, with
// the message in `error`, or when `emit` refuses a row.
template <class Emit>
bool read_rows(trace_reader& reader, Emit emit, std::string& error,
               loaded_trace::label_store* labels) {
  // Small chunks, made once: the rows go on at once.
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
      row_label label = reader.take_label();
      if (labels) {
        labels->ids += label.id;
        labels->id_end.push_back(labels->ids.size());
        labels->key.push_back(label.key);
      }
      loaded_trace::row r;
      r.at = a.at;
      r.duration = a.duration;
      r.own_cost = costs[i];
      r.account = a.req.account;
      r.model = a.req.model;
      r.product = a.req.product;
      r.conn = static_cast<std::uint32_t>(a.req.conn);
      r.key = a.req.key;
      r.tokens = a.req.tokens;
      r.priority = a.req.priority;
      r.output_tokens = a.output_tokens;
      r.what = a.req.what;
      r.fail = a.fail;
      if (!emit(r)) return false;
    }
  }
}

// Whether `line` is one the CSV parser skips as empty (only blanks).
bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

loaded_trace::loaded_trace(const std::string& path, std::size_t threads, bool labels)
    : path_(path) {
  // A plain file, even in one piece, is read from memory into rows
  // allocated once for all its lines.
  if (read_in_pieces(std::max<std::size_t>(threads, 1), labels)) return;
  read_serially(labels);
}

std::unique_ptr<loaded_trace::row, loaded_trace::free_rows> loaded_trace::allocate(std::size_t n) {
  // In huge pages where the system allows (transparent huge pages on
  // request): a million rows are 48 MB, 12,000 faults of 4 KiB pages.
  std::size_t bytes = std::max<std::size_t>(n, 1) * sizeof(row);
  void* p = ::operator new(bytes, huge_page);
  ::madvise(p, bytes, MADV_HUGEPAGE);
  return std::unique_ptr<row, free_rows>(static_cast<row*>(p));
}

const loaded_trace::label_store& loaded_trace::labels_of(std::size_t i) const {
  auto after = std::upper_bound(labels_.begin(), labels_.end(), i,
                                [](std::size_t row, const label_store& l) { return row < l.first_row; });
  return *(after - 1);
}

std::string_view loaded_trace::label_id(std::size_t i) const {
  const auto& l = labels_of(i);
  std::size_t j = i - l.first_row;
  std::size_t begin = j == 0 ? 0 : l.id_end[j - 1];
  return std::string_view(l.ids).substr(begin, l.id_end[j] - begin);
}

policies::id loaded_trace::key_of(std::size_t i) const {
  const auto& l = labels_of(i);
  return l.key[i - l.first_row];
}

void loaded_trace::read_serially(bool labels) {
  // A plan that names no model: the reader then interns models in order of
  // first appearance, and each plan_view maps them to its plan's ids.
  trace_reader reader(path_, plan::build("streams", {}));
  std::string error;
  std::vector<row> rows;
  label_store kept;
  if (!read_rows(reader, [&](const row& r) { rows.push_back(r); return true; }, error,
                 labels ? &kept : nullptr))
    throw input_error::in("", error);
  rows_ = allocate(rows.size());
  std::uninitialized_copy(rows.begin(), rows.end(), rows_.get());
  size_ = rows.size();
  for (std::uint32_t i = 0; i < reader.keys().size(); ++i) keys_.intern(reader.keys().name(i));
  has_priority_ = reader.has_priority();
  if (labels) labels_.push_back(std::move(kept));
  for (std::uint32_t i = 0; i < reader.accounts().size(); ++i) accounts_.intern(reader.accounts().name(i));
  for (std::uint32_t i = 0; i < reader.models().size(); ++i) models_.intern(reader.models().name(i));
}

bool loaded_trace::read_in_pieces(std::size_t threads, bool labels) {
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
  if (bodies.empty()) return false;  // no rows: the serial read checks the header

  struct piece {
    std::unique_ptr<trace_reader> reader;
    std::size_t at = 0;    ///< its first row's place in rows_ while reading
    std::size_t room = 0;  ///< its lines: at most that many rows
    std::size_t rows = 0;
    label_store labels;    ///< keys by the piece reader's ids
    bool ok = false;
  };
  std::vector<piece> pieces(bodies.size());
  run_at_once(pieces.size(), [&](std::size_t k) {
    auto b = bodies[k];
    pieces[k].room = static_cast<std::size_t>(std::count(b.begin(), b.end(), '\n')) +
                     (b.empty() || b.back() == '\n' ? 0 : 1);
  });
  std::size_t room = 0;
  for (auto& p : pieces) {
    p.at = room;
    room += p.room;
  }
  rows_ = allocate(room);

  auto neutral = plan::build("streams", {});
  run_at_once(pieces.size(), [&](std::size_t k) {
    auto& p = pieces[k];
    try {
      if (labels) {
        // Room for the most the piece can hold: pages never written are
        // never touched, and nothing is copied as the ids grow.
        p.labels.ids.reserve(bodies[k].size());
        p.labels.id_end.reserve(p.room);
        p.labels.key.reserve(p.room);
      }
      p.reader = std::make_unique<trace_reader>(path_, header, bodies[k], neutral);
      row* out = rows_.get() + p.at;
      std::string error;
      p.ok = read_rows(
          *p.reader,
          [&](const row& r) {
            if (p.rows == p.room) return false;
            new (out + p.rows++) row(r);
            return true;
          },
          error, labels ? &p.labels : nullptr);
    } catch (...) {
      p.ok = false;  // the serial read says what it is
    }
  });

  usec last = 0;
  for (auto& p : pieces) {
    if (!p.ok) return false;
    if (p.rows == 0) continue;
    // Sorted within each piece; across a seam too, or the serial read reports it.
    const row* rows = rows_.get() + p.at;
    if (rows[0].at < last) return false;
    last = rows[p.rows - 1].at;
  }

  // Names numbered in piece order: the order of first appearance in the
  // file; then each piece's rows renumbered in place, the pieces at once.
  struct renumbering {
    std::vector<id> account, model, product, conn, key;
  };
  auto map = [](const interner& local, interner& global) {
    std::vector<id> ids(local.size());
    for (std::uint32_t i = 0; i < local.size(); ++i) ids[i] = global.intern(local.name(i));
    return ids;
  };
  interner products, connections;
  has_priority_ = pieces[0].reader->has_priority();  // one header for all
  std::vector<renumbering> maps(pieces.size());
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    auto& r = *pieces[k].reader;
    maps[k] = renumbering{map(r.accounts(), accounts_), map(r.models(), models_),
                          map(r.products(), products), map(r.connections(), connections),
                          map(r.keys(), keys_)};
  }
  run_at_once(pieces.size(), [&](std::size_t k) {
    auto& m = maps[k];
    auto& p = pieces[k];
    row* rows = rows_.get() + p.at;
    for (std::size_t i = 0; i < p.rows; ++i) {
      row& r = rows[i];
      r.account = m.account[r.account];
      if (r.model != no_id) r.model = m.model[r.model];
      if (r.product != no_id) r.product = m.product[r.product];
      if (on_connection(r.what)) r.conn = m.conn[r.conn];
      if (r.key != no_id) r.key = m.key[r.key];
    }
    for (auto& key : p.labels.key) key = m.key[key];
    p.reader.reset();
  });

  // Rows end to end: each piece moves down over the lines that held no row
  // (blank lines) before it.
  for (auto& p : pieces) {
    if (size_ != p.at) std::memmove(static_cast<void*>(rows_.get() + size_), rows_.get() + p.at, p.rows * sizeof(row));
    if (labels && p.rows > 0) {
      p.labels.first_row = size_;
      labels_.push_back(std::move(p.labels));
    }
    size_ += p.rows;
  }
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
  auto rows = trace_.rows();
  for (std::size_t added = 0; next_ < rows.size() && added < max; ++next_) {
    const row& r = rows[next_];
    reached_ = r.at;
    if (!only_.empty() && !only_[account_id_[r.account]]) continue;
    ++added;
    arrival a;
    a.req.seq = next_;
    a.req.account = account_id_[r.account];
    a.req.model = r.model == no_id ? no_id : model_id_[r.model];
    a.req.product = r.product;
    a.req.conn = r.conn;
    a.req.key = r.key;
    a.req.tokens = r.tokens;
    a.req.priority = r.priority;
    a.output_tokens = r.output_tokens;
    a.req.what = r.what;
    a.at = r.at;
    a.duration = r.duration;
    a.fail = r.fail;
    a.profile = profile_by_account_[a.req.account];
    a.req.cost = plan_->cost_of(a.profile, a.req.model, r.own_cost);
    out.push_back(a);
  }
}

}  // namespace usher::traces
