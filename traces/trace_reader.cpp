#include "traces/trace_reader.hpp"

// The parser's header trips -Wstringop-truncation when inlined here (it
// truncates long file names on purpose); the warning is about its code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#endif
#include <libfccp/csv.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>

#include "policies/input_error.hpp"
#include "traces/gzip_source.hpp"

namespace usher::traces {

using namespace policies;

namespace {

constexpr unsigned column_count = 15;
using csv_parser = io::CSVReader<column_count, io::trim_chars<' ', '\t'>,
                                 io::double_quote_escape<',', '"'>, io::throw_on_overflow,
                                 io::empty_line_comment>;

// The CSV parser's errors, in usher's words, with file and line.
input_error describe(const io::error::base& e, const std::string& path) {
  std::size_t line = 0;
  if (auto* l = dynamic_cast<const io::error::with_file_line*>(&e))
    line = l->file_line > 0 ? static_cast<std::size_t>(l->file_line) : 0;
  std::string what;
  if (dynamic_cast<const io::error::too_few_columns*>(&e)) what = "too few columns";
  else if (dynamic_cast<const io::error::too_many_columns*>(&e)) what = "too many columns";
  else if (dynamic_cast<const io::error::escaped_string_not_closed*>(&e)) what = "a quoted field is not closed";
  else if (dynamic_cast<const io::error::header_missing*>(&e)) what = "the header line is missing";
  else if (dynamic_cast<const io::error::can_not_open_file*>(&e)) what = "cannot open the file";
  else if (dynamic_cast<const io::error::line_length_limit_exceeded*>(&e)) what = "line too long";
  else if (auto* d = dynamic_cast<const io::error::duplicated_column_in_header*>(&e))
    what = std::string("column '") + d->column_name + "' appears twice in the header";
  else what = e.what();
  return input_error::at(path, line, "", what);
}

// Lines of a piece of a plain file held in memory, as gzip_source gives
// the lines of the whole file: split at '\n', one trailing '\r' dropped.
class memory_lines {
 public:
  memory_lines(std::string_view header, std::string_view body) : header_(header), rest_(body) {}
  bool next(std::string_view& line) {
    if (!header_done_) {
      header_done_ = true;
      line = without_cr(header_);
      return true;
    }
    if (rest_.empty()) return false;
    auto end = rest_.find('\n');
    line = without_cr(rest_.substr(0, end));
    rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end + 1);
    return true;
  }

 private:
  static std::string_view without_cr(std::string_view l) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    return l;
  }
  std::string_view header_, rest_;
  bool header_done_ = false;
};

// The trace's bytes for the CSV parser, line by line from gzip_source (so a
// gzip trace and stdin read like a plain file) or from memory_lines, each
// line ended with '\n'. libfccp's LineReader::next_line reads the byte just
// past the data before its bounds check; after a last line without '\n'
// that byte (uninitialized memory) decided where the next line began, and a
// '\n' there sent the next call scanning past the end of its buffer (a heap
// over-read found by fuzz/trace_reader.cpp, docs/SECURITY.md). With every
// line ended, the byte past the data is never read.
template <class Lines>
class line_source : public io::ByteSourceBase {
 public:
  template <class... Args>
  explicit line_source(Args&&... args) : in_(std::forward<Args>(args)...) {}
  // Fills the whole buffer but at the end: the parser asks for no more once
  // a read comes back short.
  int read(char* buffer, int size) override {
    int n = 0;
    while (n < size) {
      if (rest_.empty() && !newline_due_) {
        if (!in_.next(rest_)) break;
        newline_due_ = true;
      }
      auto take = std::min(rest_.size(), static_cast<std::size_t>(size - n));
      std::memcpy(buffer + n, rest_.data(), take);
      rest_.remove_prefix(take);
      n += static_cast<int>(take);
      if (rest_.empty() && newline_due_ && n < size) {
        buffer[n++] = '\n';
        newline_due_ = false;
      }
    }
    return n;
  }

 private:
  Lines in_;
  std::string_view rest_;     ///< of the current line, not yet handed out
  bool newline_due_ = false;  ///< the current line's '\n' is not yet handed out
};

// A field that must be a whole number from 0 to `most`, digits only.
bool whole_number(std::string_view field, std::int64_t most, std::int64_t& out) {
  auto res = std::from_chars(field.data(), field.data() + field.size(), out);
  return res.ec == std::errc() && res.ptr == field.data() + field.size() && out >= 0 && out <= most;
}

}  // namespace

struct trace_reader::csv {
  csv(const std::string& display_name, std::unique_ptr<io::ByteSourceBase> bytes)
      : parser(display_name, std::move(bytes)) {}
  csv_parser parser;
};

trace_reader::trace_reader(const std::string& path, std::shared_ptr<const plan> p)
    : path_(gzip_source::display_name(path)), plan_(std::move(p)) {
  for (auto& m : plan_->named_models()) models_.intern(m);
  if (path.empty()) {
    done_ = true;
    return;
  }
  open([&] { return std::make_unique<line_source<gzip_source>>(path); });
}

trace_reader::trace_reader(const std::string& display_name, std::string_view header,
                           std::string_view body, std::shared_ptr<const plan> p)
    : path_(display_name), plan_(std::move(p)) {
  for (auto& m : plan_->named_models()) models_.intern(m);
  open([&] { return std::make_unique<line_source<memory_lines>>(header, body); });
}

template <class MakeBytes>
void trace_reader::open(MakeBytes make_bytes) {
  try {
    in_ = std::make_unique<csv>(path_, make_bytes());
    in_->parser.read_header(io::ignore_extra_column | io::ignore_missing_column, "arrival_s",
                            "account", "duration_s", "id", "key", "model", "product", "cost",
                            "kind", "conn", "fail", "input_tokens", "output_tokens",
                            "priority", "node");
  } catch (const io::error::base& e) {
    throw describe(e, path_);
  }
  has_priority_ = in_->parser.has_column("priority");
  for (const char* required : {"arrival_s", "account", "duration_s"})
    if (!in_->parser.has_column(required))
      throw input_error::at(path_, 1, std::string("column '") + required + "'",
                            "missing from the header (required: arrival_s, account, duration_s)");
}

trace_reader::~trace_reader() = default;

bool trace_reader::read(std::vector<arrival>& out, std::size_t max, std::string& error,
                        std::vector<std::int64_t>* own_costs) {
  std::int64_t own_cost = -1;
  for (std::size_t n = 0; n < max && !done_; ++n) {
    arrival a;
    if (!read_row(a, error, own_cost)) return false;
    if (done_) break;
    out.push_back(a);
    if (own_costs) own_costs->push_back(own_cost);
  }
  return true;
}

row_label trace_reader::take_label() {
  row_label l = std::move(labels_.front());
  labels_.pop_front();
  return l;
}

bool trace_reader::read_row(arrival& a, std::string& error, std::int64_t& own_cost) {
  char *arrival_s = nullptr, *account = nullptr, *duration_s = nullptr, *id = nullptr,
       *key = nullptr, *model = nullptr, *product = nullptr, *cost = nullptr, *kind_s = nullptr,
       *conn = nullptr, *fail = nullptr, *input_tokens = nullptr, *output_tokens = nullptr,
       *priority = nullptr, *node = nullptr;
  try {
    if (!in_->parser.read_row(arrival_s, account, duration_s, id, key, model, product, cost,
                              kind_s, conn, fail, input_tokens, output_tokens, priority, node)) {
      done_ = true;
      return true;
    }
  } catch (const io::error::base& e) {
    error = describe(e, path_).what();
    return false;
  } catch (const input_error& e) {  // from gzip_source: a corrupt or truncated gzip stream
    error = e.what();
    return false;
  }
  auto line = in_->parser.get_file_line();
  auto bad = [&](const char* column, const std::string& message) {
    error = input_error::at(path_, line, std::string("column '") + column + "'", message).what();
    return false;
  };
  auto text = [](const char* s) { return std::string_view(s == nullptr ? "" : s); };

  if (!parse_seconds(text(arrival_s), a.at) || a.at > longest_time)
    return bad("arrival_s", seconds_error(text(arrival_s)));
  if (a.at < last_at_)
    return bad("arrival_s", "rows must be sorted by arrival_s: " + format_seconds(a.at) +
                                " comes after " + format_seconds(last_at_));
  if (!parse_seconds(text(duration_s), a.duration) || a.duration > longest_time)
    return bad("duration_s", seconds_error(text(duration_s)));
  if (text(account).empty()) return bad("account", "must not be empty");
  if (!parse_kind(text(kind_s), a.req.what))
    return bad("kind", "expected request, ws_open, ws_request, ws_close or session, got " +
                           quoted(std::string(text(kind_s))));
  auto f = text(fail);
  if (f.empty() || f == "0" || f == "false") a.fail = false;
  else if (f == "1" || f == "true") a.fail = true;
  else return bad("fail", "expected 0 or 1, got " + quoted(std::string(f)));
  own_cost = -1;
  if (auto c = text(cost); !c.empty()) {
    if (!whole_number(c, max_cost, own_cost))
      return bad("cost", "expected an integer from 0 to " + std::to_string(max_cost) + ", got " +
                             quoted(std::string(c)));
  }
  // Tokens, for a tokens-per-minute rate: input plus output (empty: 0).
  std::int64_t tokens = 0;
  a.output_tokens = no_output_tokens;
  for (auto [column, field] : {std::pair{"input_tokens", input_tokens}, std::pair{"output_tokens", output_tokens}}) {
    auto t = text(field);
    if (t.empty()) continue;
    std::int64_t n = -1;
    if (!whole_number(t, max_request_tokens, n))
      return bad(column, "expected an integer from 0 to " + std::to_string(max_request_tokens) +
                             ", got " + quoted(std::string(t)));
    tokens += n;
    if (field == output_tokens) a.output_tokens = static_cast<std::uint32_t>(n);
  }
  if (tokens > max_request_tokens)
    return bad("output_tokens", "input_tokens + output_tokens must be at most " +
                                    std::to_string(max_request_tokens));
  a.req.tokens = static_cast<std::uint32_t>(tokens);
  if (auto p = text(priority); !p.empty()) {
    std::int64_t level = -1;
    if (!whole_number(p, max_priority, level))
      return bad("priority", "expected an integer from 0 to " + std::to_string(max_priority) +
                                 " (or empty: the account's priority), got " + quoted(std::string(p)));
    a.req.priority = static_cast<std::int16_t>(level);
  }
  bool needs_conn = on_connection(a.req.what);
  if (needs_conn && text(conn).empty())
    return bad("conn", "required for kind " + std::string(to_string(a.req.what)));

  a.req.seq = next_seq_++;
  a.req.account = accounts_.intern(text(account));
  while (a.req.account >= profile_by_account_.size())
    profile_by_account_.push_back(plan_->profile_of(accounts_.name(
        static_cast<std::uint32_t>(profile_by_account_.size()))));
  a.profile = profile_by_account_[a.req.account];
  a.req.model = text(model).empty() ? no_id : models_.intern(text(model));
  a.req.product = text(product).empty() ? no_id : products_.intern(text(product));
  a.req.conn = needs_conn ? conns_.intern(text(conn)) : 0;
  a.req.cost = plan_->cost_of(a.profile, a.req.model, own_cost);
  last_at_ = a.at;
  auto key_id = keys_.intern(text(key));
  a.req.key = text(key).empty() ? no_id : key_id;
  labels_.push_back(row_label{std::string(text(id)), a.req.account, key_id, a.req.model, a.at,
                              std::string(text(node)), line});
  return true;
}

std::optional<std::pair<usec, usec>> arrival_span(const std::string& path) {
  if (path.empty() || path == "-") return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::string header;
  if (!in || !std::getline(in, header) || header.rfind("\x1f\x8b", 0) == 0) return std::nullopt;
  auto body_at = static_cast<std::streamoff>(header.size()) + 1;
  in.clear();
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::streamoff>(in.tellg());
  if (body_at >= size) return std::nullopt;
  // Up to 64 KiB of whole lines from `from`, and the first row they hold.
  constexpr std::streamoff window = 65536;
  auto first_row = [&](std::streamoff from, bool last_line) -> std::optional<usec> {
    std::string text(static_cast<std::size_t>(std::min(window, size - from)), '\0');
    in.clear();
    in.seekg(from);
    if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) return std::nullopt;
    std::string_view lines(text);
    if (last_line) {
      while (!lines.empty() && (lines.back() == '\n' || lines.back() == '\r' || lines.back() == ' '))
        lines.remove_suffix(1);
      auto nl = lines.rfind('\n');
      if (nl == std::string_view::npos && from > body_at) return std::nullopt;  // longer than 64 KiB
      lines.remove_prefix(nl == std::string_view::npos ? 0 : nl + 1);
    } else if (from + window < size) {
      auto nl = lines.rfind('\n');
      if (nl == std::string_view::npos) return std::nullopt;
      lines = lines.substr(0, nl + 1);
    }
    try {
      trace_reader reader(path, header, lines, plan::build("streams", {}));
      std::vector<arrival> rows;
      std::string error;
      if (!reader.read(rows, 1, error) || rows.empty()) return std::nullopt;
      return rows.front().at;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  auto first = first_row(body_at, false);
  auto last = first_row(std::max(body_at, size - window), true);
  if (!first || !last) return std::nullopt;
  return std::make_pair(*first, *last);
}

}  // namespace usher::traces
