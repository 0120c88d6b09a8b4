#include "tools/cluster_sim.hpp"

#include <caf/all.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <set>
#include <sstream>
#include <utility>

#include "actors/clients/client_model.hpp"
#include "actors/cluster/cluster_node.hpp"
#include "actors/cluster/sim_network.hpp"
#include "policies/input_error.hpp"
#include "policies/random.hpp"
#include "tools/serve_actors.hpp"
#include "tools/serve_config.hpp"
#include "tools/simulation_run.hpp"
#include "tools/workload_file.hpp"
#include "traces/csv_out.hpp"
#include "traces/ini_file.hpp"
#include "traces/outcome_writer.hpp"
#include "traces/trace_reader.hpp"

namespace usher::tools {

using policies::input_error;
using policies::never;
using policies::usec;

// -- fault schedules ------------------------------------------------------------

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string seconds_text(usec t) { return policies::format_seconds(t) + "s"; }

std::vector<sim_fault> parse_faults(const std::string& name, const std::string& text,
                                    const std::vector<std::string>& members) {
  std::vector<sim_fault> out;
  std::size_t next_pair = 0;
  std::istringstream in(text);
  std::size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    auto w = words_of(line);
    if (w.empty()) continue;
    auto bad = [&](const std::string& field, const std::string& why) {
      return input_error::at(name, line_no, field, why);
    };
    auto time = [&](const std::string& word) {
      usec t = 0;
      bool unit_error = false;
      if (!policies::parse_duration(word, t, unit_error))
        throw bad(word, "expected a time such as 30s, 500ms or 2m, got " + policies::quoted(word));
      return t;
    };
    auto range = [&](const std::string& word) {
      auto dots = word.find("..");
      if (dots == std::string::npos)
        throw bad(word, "expected FROM..TO such as 20s..26s, got " + policies::quoted(word));
      auto a = time(word.substr(0, dots)), b = time(word.substr(dots + 2));
      if (b < a) throw bad(word, "the range ends before it starts");
      return std::make_pair(a, b);
    };
    auto member = [&](const std::string& word) {
      auto i = std::find(members.begin(), members.end(), word);
      if (i == members.end())
        throw bad(word, "no member " + policies::quoted(word) + " among the [cluster] peers");
      return static_cast<std::uint32_t>(i - members.begin());
    };
    auto expect_words = [&](std::size_t n, const char* form) {
      if (w.size() != n) throw bad(w[0], std::string("expected: ") + form);
    };
    sim_fault f;
    f.text = line;
    while (!f.text.empty() && std::isspace(static_cast<unsigned char>(f.text.back()))) f.text.pop_back();
    f.text.erase(0, f.text.find_first_not_of(" \t"));
    using kind = sim_fault::kind;
    const auto& verb = w[0];
    if (verb == "crash" || verb == "restart") {
      expect_words(4, verb == "crash" ? "crash NAME at TIME" : "restart NAME at TIME");
      if (w[2] != "at") throw bad(w[2], "expected \"at\"");
      f.what = verb == "crash" ? kind::crash : kind::restart;
      f.member = member(w[1]);
      f.at = time(w[3]);
      out.push_back(f);
    } else if (verb == "reload") {
      const char* form = "reload NAME at TIME FILE, or reload NAME at TIME with KEY=VALUE ...";
      if (w.size() < 5 || (w[4] == "with") != (w.size() > 5)) throw bad(w[0], std::string("expected: ") + form);
      if (w[2] != "at") throw bad(w[2], "expected \"at\"");
      f.what = kind::reload;
      f.member = member(w[1]);
      f.at = time(w[3]);
      if (w[4] != "with") f.file = w[4];
      for (std::size_t i = 5; i < w.size(); ++i) {
        // The config's own lines, with these added at the end of their sections.
        auto eq = w[i].find('=');
        auto dots = std::count(w[i].begin(), w[i].begin() + static_cast<std::ptrdiff_t>(std::min(eq, w[i].size())), '.');
        if (eq == std::string::npos || eq + 1 == w[i].size() || dots < 2 ||
            (w[i].rfind("account.", 0) != 0 && w[i].rfind("plan.", 0) != 0))
          throw bad(w[i], "expected account.NAME.KEY=VALUE or plan.NAME.KEY=VALUE, got " + policies::quoted(w[i]));
        f.with.emplace_back(w[i].substr(0, eq), w[i].substr(eq + 1));
      }
      out.push_back(f);
    } else if (verb == "pause") {
      expect_words(3, "pause NAME FROM..TO");
      auto [a, b] = range(w[2]);
      f.what = kind::pause;
      f.member = member(w[1]);
      f.at = a;
      out.push_back(f);
      f.what = kind::resume;
      f.at = b;
      f.text = "resume " + w[1] + " (end of: " + f.text + ")";
      out.push_back(f);
    } else if (verb == "partition") {
      if (w.size() < 5) throw bad(verb, "expected: partition NAME... | NAME... FROM..TO");
      auto [a, b] = range(w.back());
      // Members not named stay on the first side.
      f.side.assign(members.size(), 0);
      int side = 0;
      std::set<std::uint32_t> named;
      for (std::size_t i = 1; i + 1 < w.size(); ++i) {
        if (w[i] == "|") {
          ++side;
          continue;
        }
        auto m = member(w[i]);
        if (!named.insert(m).second) throw bad(w[i], "a member on two sides");
        f.side[m] = side;
      }
      if (side == 0) throw bad(verb, "expected two sides split by |");
      f.what = kind::partition;
      f.at = a;
      f.pair = next_pair++;
      out.push_back(f);
      f.what = kind::heal;
      f.at = b;
      f.text = "heal (end of: " + f.text + ")";
      out.push_back(f);
    } else if (verb == "delay") {
      expect_words(2, "delay MIN..MAX");
      auto [a, b] = range(w[1]);
      f.what = kind::delay;
      f.min = a;
      f.max = b;
      out.push_back(f);
    } else if (verb == "drop") {
      // For the whole run, or a window of losses: drop 2% 20s..25s.
      if (w.size() != 2 && w.size() != 3) throw bad(w[0], "expected: drop PERCENT% [FROM..TO]");
      auto v = w[1];
      bool percent = !v.empty() && v.back() == '%';
      if (percent) v.pop_back();
      char* end = nullptr;
      double p = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(p >= 0)) throw bad(w[1], "expected a share such as 0.1% or 0.001");
      if (percent) p /= 100;
      if (p > 1) throw bad(w[1], "a share is at most 100%");
      f.what = kind::drop;
      f.probability = p;
      if (w.size() == 3) {
        auto [a, b] = range(w[2]);
        f.at = a;
        f.window = true;
        out.push_back(f);
        f.what = kind::drop_end;
        f.at = b;
        f.text = "end of: " + f.text;
      }
      out.push_back(f);
    } else {
      throw bad(verb, "unknown fault " + policies::quoted(verb) +
                          " (crash, restart, pause, partition, delay, drop, reload)");
    }
  }
  // Applied in time order; ties in the order written.
  std::stable_sort(out.begin(), out.end(),
                   [](const sim_fault& a, const sim_fault& b) { return a.at < b.at; });
  return out;
}

std::vector<sim_fault> read_faults(const std::string& path, const std::vector<std::string>& members) {
  std::ifstream in(path);
  if (!in) throw input_error::in(path, "cannot open the fault schedule");
  std::stringstream text;
  text << in.rdbuf();
  return parse_faults(path, text.str(), members);
}

std::string random_fault_schedule(std::size_t n, std::uint64_t seed,
                                  const std::vector<std::string>& members, usec span,
                                  usec failure_timeout, bool losses) {
  policies::rng g(policies::substream_seed(seed, policies::stable_hash("faults")));
  std::string text;
  if (n > 0) {
    // Messages take up to a few milliseconds, as on a busy network.
    auto max_us = 100 + static_cast<usec>(policies::uniform_below(g, 5000));
    text += "delay 0ms.." + policies::format_seconds(max_us) + "s\n";
  }
  auto length = [&](double lo, double hi) {
    return static_cast<usec>((lo + (hi - lo) * policies::uniform01(g)) *
                             static_cast<double>(failure_timeout));
  };
  for (std::size_t i = 0; i < n; ++i) {
    auto what = policies::uniform_below(g, losses ? 4 : 3);
    const auto& m = members[policies::uniform_below(g, members.size())];
    usec at = static_cast<usec>(policies::uniform01(g) * static_cast<double>(span));
    switch (what) {
      case 0:  // a crash, and the member back a while later
        text += "crash " + m + " at " + seconds_text(at) + "\n";
        text += "restart " + m + " at " + seconds_text(at + length(0.5, 6)) + "\n";
        break;
      case 1:  // SIGSTOP: short ones go unnoticed, long ones get it voted out
        text += "pause " + m + " " + seconds_text(at) + ".." + seconds_text(at + length(0.2, 4)) + "\n";
        break;
      case 2: {  // cut off from the others
        text += "partition " + m + " |";
        for (auto& o : members)
          if (o != m) text += " " + o;
        text += " " + seconds_text(at) + ".." + seconds_text(at + length(0.2, 4)) + "\n";
        break;
      }
      default: {  // a lossy moment of the network: 0.5 % to 5 % of all messages lost
        auto permille = 5 + policies::uniform_below(g, 46);
        text += "drop " + std::to_string(permille / 10) + "." + std::to_string(permille % 10) + "% " +
                seconds_text(at) + ".." + seconds_text(at + length(0.2, 4)) + "\n";
      }
    }
  }
  return text;
}

std::string random_reload_schedule(std::uint64_t seed, const std::vector<std::string>& members, usec span,
                                   usec failure_timeout, const std::map<std::string, std::int64_t>& limits,
                                   const std::string& add) {
  // A stream of its own: the other faults a seed draws stay as they were.
  policies::rng g(policies::substream_seed(seed, policies::stable_hash("reloads")));
  auto rounds = policies::uniform_below(g, 3);
  std::vector<usec> starts;
  for (std::uint64_t r = 0; r < rounds; ++r)
    starts.push_back(static_cast<usec>(policies::uniform01(g) * static_cast<double>(span)));
  std::sort(starts.begin(), starts.end());
  std::string text;
  usec not_before = 0;
  for (auto start : starts) {
    std::string with;
    for (auto& [account, limit] : limits) {  // by name: the same draws every run
      if (limit < 1) continue;
      auto lo = std::max<std::int64_t>(1, (limit + 1) / 2);
      auto drawn = lo + static_cast<std::int64_t>(policies::uniform_below(g, static_cast<std::uint64_t>(2 * limit - lo + 1)));
      with += " account." + account + ".limit=" + std::to_string(drawn);
    }
    if (with.empty()) break;
    // Added by the first round, kept by the later ones (each reload's file is
    // --config plus its own lines: one without it would remove it).
    if (!add.empty()) with += " account." + add + ".plan=streams:solo account." + add + ".limit=2";
    std::vector<std::size_t> order(members.size());
    for (std::size_t m = 0; m < order.size(); ++m) order[m] = m;
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[policies::uniform_below(g, i)]);
    usec at = std::max(start, not_before);
    for (auto m : order) {
      text += "reload " + members[m] + " at " + seconds_text(at) + " with" + with + "\n";
      at += static_cast<usec>((0.1 + 1.9 * policies::uniform01(g)) * static_cast<double>(failure_timeout));
    }
    not_before = at;
  }
  return text;
}

std::vector<sim_fault> random_faults(std::size_t n, std::uint64_t seed,
                                     const std::vector<std::string>& members, usec span,
                                     usec failure_timeout, bool losses) {
  return parse_faults("(random faults, seed " + std::to_string(seed) + ")",
                      random_fault_schedule(n, seed, members, span, failure_timeout, losses), members);
}

// -- the run ----------------------------------------------------------------------

namespace {

using go_atom = caf::atom_constant<caf::atom("sim_go")>;
using actors::admit_reply;
using actors::admit_request;
using actors::ticket_poll;
using actors::lease_op;
using actors::lease_reply;
using actors::lease_request;

/// One member of the simulated cluster, as `usher serve` builds it.
struct member_run {
  tools::node_config config;
  std::unique_ptr<serve_actors> admission;
  caf::actor cluster;
  std::set<caf::actor_id> actors;  ///< its actors (a pause holds them)
  std::vector<bool> holds;         ///< by group, as its cluster actor said
  std::shared_ptr<actors::cluster::grant_window> window;
  caf::actor_clock::time_point epoch;  ///< its process start (node time 0)
  std::uint64_t generation = 0;
  std::uint32_t starts = 0;
  std::shared_ptr<actors::cluster::cluster_stats> stats;  ///< its process's
  bool up = false;
  int pauses = 0;  ///< pauses holding it now (they may overlap)
  bool healthy = true;  ///< the load balancer sends to it (--health-check)
  int checks_against = 0;  ///< checks in a row that said otherwise
  /// What its `reload` faults read, applied when its cluster actor
  /// switches with the others; a new process starts with its config's.
  cluster_reloads reloads;
};

/// One trace row and what became of it (names stay in the reader's
/// interners: an hour at 1,000 requests/s is 3.6 million of these).
struct row_run {
  policies::arrival a;
  std::string id;  ///< the trace's id; "": its row number
  std::int64_t own_cost = -1;
  std::int64_t units = 1;  ///< what it holds of its account's pool
  std::uint32_t group = 0;
  std::uint32_t node = 0;  ///< where it entered
  int owner = -1;          ///< the member that granted it
  bool answered = false;
  bool granted = false;    ///< it got a lease (not so a ws_close, or a ws_open of an open connection)
  bool final = false;      ///< a generated attempt that was its request's last (success or giving up)
  std::uint16_t code = 0;
  std::string_view why;    ///< a reason's name, or the harness's own (entry_crashed)
  usec start = -1, end = -1, wait = 0;
  usec answered_at = -1;
};

constexpr std::size_t no_socket = static_cast<std::size_t>(-1);

/// An answer's code as a generated client's SDK takes it: 502 and 503 are
/// 5xx (retried, honouring Retry-After), other codes of usher's own 4xx
/// (404 ticket_lost, 410 lease_ended) are not retried.
policies::status client_status(std::uint16_t code) {
  using policies::status;
  switch (code) {
    case 200: return status::ok;
    case 408: return status::timeout;
    case 429: return status::rejected;
    case 499: return status::client_closed;
    case 1008: return status::policy_close;
    default: return code >= 500 ? status::failed : status::bad_request;
  }
}

/// One grant, as its holder lived it.
struct lease_run {
  std::size_t row = 0;
  std::string lease;
  int owner = -1;
  std::uint64_t epoch = 0;
  usec granted = 0, released = -1;
  usec ttl = 0;        ///< 0: none
  usec last_ok = 0;    ///< its last 200 (grant or renewal)
  std::int64_t limit = -1;  ///< the account's limit its owner applied to the grant (-1: none said)
  /// released; lost: the holder stopped, its renewals failing; closed: its
  /// WebSocket closed under it (the connection ended, or its member died)
  std::string_view how;
  std::size_t socket = no_socket;  ///< the WebSocket holding it (ws_open, ws_request)
  bool lost_but_held = false;  ///< --holders-keep-going: lost, its holder going on
};

/// A WebSocket connection a ws_open row opened. Its socket is on the member
/// the client reached, whose edge renews the leases held over it and closes
/// it (1013) when one of them is lost (docs/CLUSTER.md, "WebSocket
/// connections"); it drops with that member's process.
struct socket_run {
  std::uint64_t conn = 0;  ///< the edge's connection id, unique in the cluster
  std::uint32_t member = 0;
  std::size_t lease = 0;   ///< the connection's own lease (its slot under the cap)
  std::vector<std::size_t> requests;  ///< the leases of its ws_requests, while held
  bool open = true;
};

/// A ticket client gives up after this many polls in a row answered 503
/// (about half a minute at Retry-After: 1): its last answer is its outcome.
constexpr std::uint32_t max_ticket_retries = 30;

/// A ticket client's ticket, until it is decided (--tickets).
struct ticket_run {
  std::string ticket;
  std::uint64_t poll = 0;     ///< the poll in flight: answers to earlier ones are stale
  std::uint32_t at = 0;       ///< the member it went to
  std::uint32_t refused = 0;  ///< polls answered 503 in a row
};

struct event {
  enum class kind : std::uint8_t { fault, release, renew, check, poll, give_up, wake, probe, probe_timeout };
  usec at;
  std::uint64_t seq;
  kind what;
  std::size_t index;
  bool operator>(const event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

class cluster_run {
 public:
  explicit cluster_run(const cluster_sim_request& r) : request_(r) {
    load_configs();
    faults_ = r.faults.empty() ? std::vector<sim_fault>{} : read_faults(r.faults, names_);
    // Before the trace: its rows may name accounts a reload adds.
    load_reloads();
    load_trace();
    followed_.assign(reader_->accounts().size(), false);
    for (auto& name : r.follow) {
      if (!group_of_.count(name))
        throw input_error::at("--follow", 0, "", "no [account." + name + "] in " + r.config);
      for (std::uint32_t id = 0; id < followed_.size(); ++id)
        if (reader_->accounts().name(id) == name) followed_[id] = true;
    }
    if (r.random_faults > 0) {
      // Over the trace and the generated clients' time.
      auto span = std::max(rows_.empty() ? 0 : rows_.back().a.at, models_.empty() ? 0 : workload_.stop);
      if (span == 0) span = policies::seconds(60);
      auto more = random_faults(r.random_faults, r.seed, names_, span,
                                members_[0].config.cluster.failure_timeout, r.client_timeout > 0);
      for (auto& f : more) f.pair += 1'000'000;  // apart from the file's partitions
      faults_.insert(faults_.end(), more.begin(), more.end());
      auto limits = account_limits(members_[0].config);
      auto reloads = parse_faults("(random reloads, seed " + std::to_string(r.seed) + ")",
                                  random_reload_schedule(r.seed, names_, span,
                                                         members_[0].config.cluster.failure_timeout, limits),
                                  names_);
      faults_.insert(faults_.end(), reloads.begin(), reloads.end());
      std::stable_sort(faults_.begin(), faults_.end(),
                       [](const sim_fault& a, const sim_fault& b) { return a.at < b.at; });
    }
    load_reloads();
  }

  cluster_sim_totals run();

 private:
  void load_configs();
  /// Reads the trace, after naming the generated clients' accounts (their
  /// ids then do not depend on the trace, as in simulate).
  void load_trace();
  void load_clients();
  /// What row r holds of its account's pool, in its account's own plan.
  std::int64_t units_of(const row_run& r) const;
  /// The member the next request without a `node` enters at (round robin).
  std::uint32_t next_entry() {
    auto m = next_entry_;
    next_entry_ = (next_entry_ + 1) % static_cast<std::uint32_t>(members_.size());
    return m;
  }
  /// Reads and checks each `reload` fault's config now: a bad one is an
  /// error before the run, as `usher serve` refuses it at SIGHUP.
  void load_reloads();
  void reload(std::uint32_t m, const std::string& file);
  usec now() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(clock_->now() - origin_).count();
  }
  void log(const std::string& who, const std::string& text) {
    log_ << policies::format_seconds(now()) << " " << who << " " << text << "\n";
  }
  void start(std::uint32_t m, bool fresh);
  void crash(std::uint32_t m);
  void apply(const sim_fault& f);
  void unpark(std::uint32_t m);
  void run_ready();
  void push(usec at, event::kind what, std::size_t index) {
    events_.push(event{at, next_event_++, what, index});
  }
  /// A renewal or check of lease l, if its holder still holds it then: its
  /// release event, pushed before, comes first at its end (or earlier: a
  /// row's end only moves closer), and would make it a no-op. An hour's
  /// heap then holds the leases' next events, not a TTL's worth of stale ones.
  void push_while_held(usec at, event::kind what, std::size_t l) {
    if (at < rows_[leases_[l].row].end) push(at, what, l);
  }
  /// The member a client reaches: `preferred` when up, else the next up
  /// (a load balancer skips a member whose process is gone), and with
  /// health checks one whose last one passed, when one did.
  std::optional<std::uint32_t> reach(std::uint32_t preferred) const;
  /// The load balancer's health checks of every member (--health-check);
  /// the next ones while `rows_left` or any other event is to come.
  void probe(bool rows_left);
  /// Member m's check is answered (or timed out) now: counted against its
  /// state in the load balancer, which changes after health_threshold.
  void checked(std::uint32_t m);
  int owner_of(std::uint32_t group, std::uint64_t* epoch) const;
  const std::string& account(const row_run& r) const { return reader_->accounts().name(r.a.req.account); }
  std::string model(const row_run& r) const {
    return r.a.req.model == policies::no_id ? "" : reader_->models().name(r.a.req.model);
  }
  std::string product(const row_run& r) const {
    return r.a.req.product == policies::no_id ? "" : reader_->products().name(r.a.req.product);
  }
  const std::string& member_name(int m) const {
    static const std::string none;
    return m < 0 ? none : names_[static_cast<std::size_t>(m)];
  }

  /// Row r's request id at the member it entered: unique in the cluster, as
  /// the edge's are (a ws_open's is its connection id too).
  std::uint64_t request_id(std::size_t r) const { return (std::uint64_t{rows_[r].node + 1} << 48) + r; }
  void arrive(std::size_t r);
  /// Generated client c acts now: the attempts it sends enter together.
  void wake(std::uint32_t c);
  /// Client c wants to act next at its next wakeup.
  void arm(std::uint32_t c) {
    auto t = models_[c]->next_wakeup();
    if (t != never) push(t, event::kind::wake, c);
  }
  /// Row r, a generated attempt, is decided as its client sees it (`code`;
  /// the server's Retry-After): its client learns it and reacts. A granted
  /// one is told at its grant with its answer's end, as simulate tells it
  /// (so that a cluster without faults gives simulate's outcomes); a lease
  /// lost before that end is not told again (docs/CLUSTER-SIM.md, "Limits").
  void attempt_over(std::size_t r, policies::status code, usec retry_after = 0);
  /// Writes row r's id in outcomes.csv and leases.csv: the trace's, its row
  /// number, or ACCOUNT#REQUEST.ATTEMPT for a generated attempt (as simulate).
  void write_id(traces::csv_out& out, std::size_t r) const;
  /// Row r's id as outcomes.csv writes it.
  std::string id_of(std::size_t r) const;
  /// events.log, for an account --follow names: what `text()` says
  /// happened to row r (made only then: this is on every request's path).
  template <class Text>
  void follow(std::size_t r, const Text& text) {
    auto account = rows_[r].a.req.account;
    if (account < followed_.size() && followed_[account])
      log("client", this->account(rows_[r]) + " " + id_of(r) + " " + text());
  }
  std::vector<bool> followed_;  ///< by account id: --follow names it
  /// The answer to a row's admission: final, or a ticket to poll (--tickets).
  void answered(std::size_t r, const admit_reply& reply);
  /// What the client got in the end: the row's outcome, and its lease on 200.
  void decided(std::size_t r, const admit_reply& reply);
  /// decided()'s bookkeeping: the row's outcome, its lease and socket.
  void record(std::size_t r, const admit_reply& reply);
  /// ws_open row r has its outcome: the rows that waited to be sent over
  /// its connection enter now (refused 400 if it did not open).
  void opened(std::size_t r);
  /// A ticket client asks how its ticket stands (a long poll), through the
  /// member it entered at or the next one up.
  void poll(std::size_t r);
  void poll_answered(std::size_t r, std::uint64_t poll, const admit_reply& reply);
  /// The client's timeout (--client-timeout): no answer yet, it gives up
  /// (499): its member cancels what it waits for at the owner, as the edge
  /// does when a client disconnects; a ticket client gives its ticket up.
  void give_up(std::size_t r);
  void holder_event(const event& e);
  void stop_holding(std::size_t l, const char* how);
  /// Lease l ends now, `how`: its holder stops using it.
  void end_lease(std::size_t l, const char* how);
  /// A holder lets a lease go: a release through `member` (none when it is
  /// down), saying the answer's output tokens (0: not known) as the gateway would.
  void send_release(const std::string& account, const std::string& lease,
                    std::optional<std::uint32_t> member, std::uint32_t output_tokens = 0);
  void send_release(std::size_t l, std::optional<std::uint32_t> member) {
    const auto& a = rows_[leases_[l].row].a;
    send_release(account(rows_[leases_[l].row]), leases_[l].lease, member,
                 a.output_tokens == policies::no_output_tokens || a.fail ? 0 : a.output_tokens);
  }
  /// Socket s closes: its requests' leases and its own end `how`, released
  /// through its member while that is up.
  void close_socket(std::size_t s, const char* how);
  /// The member a lease's renewals and release go through: its socket's, or
  /// the one its client reaches.
  std::optional<std::uint32_t> holder_member(const lease_run& l) const;
  void send(std::uint32_t node, std::function<void(caf::event_based_actor*, const caf::actor&)> f) {
    outbox_.emplace_back(node, std::move(f));
  }

  cluster_sim_totals finish();
  /// The command that replays this run, writing to DIR (so that the file is
  /// the same whatever --out was).
  std::string summary_replay() const {
    auto r = request_;
    r.out_name = "DIR";
    return replay_command(r);
  }

  const cluster_sim_request& request_;
  // The actor system first: destroyed last, after every handle below.
  std::unique_ptr<caf::actor_system_config> sys_cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::vector<std::string> names_;
  std::vector<member_run> members_;
  /// Every member process's cluster counters (takeovers), restarts included.
  std::vector<std::shared_ptr<actors::cluster::cluster_stats>> stats_;
  std::map<std::string, std::uint32_t> group_of_;  ///< account -> group
  /// A group's index here by its placement key: --config's groups, then
  /// those that reloads add (the members number them each their own way).
  std::map<std::string, std::uint32_t> group_index_;
  /// Numbers the groups of `config` not numbered yet, and its accounts.
  void add_groups(const tools::node_config& config);
  std::map<std::string, std::shared_ptr<const policies::plan>> plan_of_;
  /// The trace's rows (the first trace_rows_, in arrival order), then the
  /// generated attempts as they are sent.
  std::vector<row_run> rows_;
  std::size_t trace_rows_ = 0;
  usec last_arrival_ = 0;
  std::uint32_t next_entry_ = 0;
  std::unique_ptr<traces::trace_reader> reader_;
  std::string trace_path_;  ///< --trace, or the workload's; "": none
  workload workload_;
  std::vector<actors::generated_account> generated_;  ///< by client index
  std::vector<std::string> client_group_;              ///< by client index
  std::vector<std::unique_ptr<actors::clients::client_model>> models_;
  std::vector<actors::clients::attempt> sent_;  ///< scratch
  std::vector<sim_fault> faults_;
  std::map<std::pair<std::uint32_t, std::string>, tools::node_config> reload_configs_;
  traces::ini_file base_ini_;  ///< --config as read, for the drawn reloads' limits
  std::vector<lease_run> leases_;
  std::vector<socket_run> sockets_;
  /// (account, the trace's conn) -> its socket, while open.
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::size_t> socket_of_;
  std::unordered_map<std::size_t, std::size_t> socket_asked_;  ///< ws_request row -> its socket
  /// (account, the trace's conn) -> the ws_request and ws_close rows that
  /// came while the connection's ws_open was on its way: a client sends over
  /// a WebSocket once it is open, so they enter when the open is answered.
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::vector<std::size_t>> opening_;
  std::vector<std::int64_t> limit_of_;  ///< by account id: its limit, as answers said (-1: none)
  std::priority_queue<event, std::vector<event>, std::greater<event>> events_;
  std::uint64_t next_event_ = 0;
  std::ostringstream log_;
  using outgoing = std::pair<std::uint32_t, std::function<void(caf::event_based_actor*, const caf::actor&)>>;
  std::vector<outgoing> outbox_;
  std::vector<std::set<std::size_t>> waiting_at_;  ///< by member: rows not answered yet
  std::unordered_map<std::size_t, ticket_run> tickets_;  ///< by row: tickets not decided yet
  double base_drop_ = 0;               ///< the schedule's `drop` for the whole run
  std::multiset<double> drop_windows_;  ///< the windows of loss open now
  /// The network loses what the worst of them says.
  void set_drop() {
    net_->set_drop(std::max(base_drop_, drop_windows_.empty() ? 0.0 : *drop_windows_.rbegin()));
  }

  caf::scheduler::test_coordinator* sched_ = nullptr;
  caf::detail::test_actor_clock* clock_ = nullptr;
  caf::actor_clock::time_point origin_;
  std::unique_ptr<actors::cluster::sim_network> net_;
  /// The clients' actors: each entry of the outbox goes from the next of
  /// them in turn, never two of one batch from one, so that the members'
  /// mailboxes get the batch in its order; many, because an actor finds the
  /// handler of an answer by a linear search of those it waits for.
  std::vector<caf::actor> drivers_;
  std::vector<outgoing> driver_next_;  ///< by driver: what it sends at its go
  std::size_t next_driver_ = 0;
  /// Spawns drivers until there are n.
  void add_drivers(std::size_t n);
  /// Hands the outbox to the drivers, in turn.
  void dispatch();
  std::vector<caf::resumable*> parked_;
};

void cluster_run::load_configs() {
  base_ini_ = traces::read_ini_file(request_.config, "node config");
  const auto& ini = base_ini_;
  std::string first;
  for (auto& e : ini.entries)
    if (e.key == "cluster.peers") {
      std::vector<actors::cluster::peer> peers;
      std::string error;
      if (actors::cluster::parse_peers(e.value, peers, error) && !peers.empty()) first = peers[0].name;
    }
  if (first.empty())
    throw input_error::in(request_.config,
                          "cluster-sim needs a [cluster] section with peers (docs/CLUSTER.md)");
  // Its clients name accounts, not keys: `key` lines may be left out.
  auto one = read_node_config(request_.config, first, false);
  names_ = one.cluster.member_names();
  for (auto& n : names_) {
    member_run m;
    m.config = read_node_config(request_.config, n, false);
    members_.push_back(std::move(m));
  }
  add_groups(one);
  waiting_at_.resize(members_.size());
}

void cluster_run::add_groups(const tools::node_config& config) {
  for (auto& group : serve_actors::groups_of(config)) {
    auto g = group_index_.emplace(group.key, static_cast<std::uint32_t>(group_index_.size())).first->second;
    for (auto& a : group.accounts)
      if (group_of_.emplace(a, g).second) plan_of_[a] = group.plan;
  }
  for (auto& m : members_) m.holds.resize(group_index_.size(), false);
}

void cluster_run::load_trace() {
  if (!request_.workload.empty()) workload_ = read_workload_file(request_.workload);
  for (auto& c : request_.clients) add_client_option(workload_, c);
  if (request_.stop) workload_.stop = *request_.stop;
  workload_.seed = request_.seed;  // one seed draws everything
  trace_path_ = request_.trace.empty() ? workload_.trace : request_.trace;
  if (trace_path_.empty() && workload_.groups.empty())
    throw input_error::in("--trace", "nothing to play: give a trace, a workload or --client");
  auto plan = members_[0].config.plans.front().plan;
  reader_ = std::make_unique<traces::trace_reader>(trace_path_, plan);
  load_clients();
  std::vector<policies::arrival> batch;
  std::vector<std::int64_t> costs;
  std::string error;
  for (;;) {
    batch.clear();
    costs.clear();
    if (!reader_->read(batch, 4096, error, &costs)) throw input_error::in(trace_path_, error);
    if (batch.empty()) break;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      row_run r;
      r.a = batch[i];
      r.own_cost = costs[i];
      auto label = reader_->take_label();
      r.id = std::move(label.id);
      const auto& name = account(r);
      auto g = group_of_.find(name);
      if (g == group_of_.end())
        throw input_error::at(trace_path_, label.line, "account",
                              "no [account." + name + "] in " + request_.config);
      r.group = g->second;
      r.units = units_of(r);
      // A connection holds its slot under the cap, no pool units.
      auto what = r.a.req.what;
      if (what == policies::kind::ws_open || what == policies::kind::ws_close) r.units = 0;
      if (!label.node.empty()) {  // the member the row names
        auto m = std::find(names_.begin(), names_.end(), label.node);
        if (m == names_.end())
          throw input_error::at(trace_path_, label.line, "column 'node'",
                                "no member named " + label.node + " in [cluster] peers of " +
                                    request_.config);
        r.node = static_cast<std::uint32_t>(m - names_.begin());
      } else {
        r.node = next_entry();  // as a round-robin load balancer sends them
      }
      rows_.push_back(std::move(r));
    }
  }
  trace_rows_ = rows_.size();
  if (!rows_.empty()) last_arrival_ = rows_.back().a.at;
}

void cluster_run::load_clients() {
  auto plan = members_[0].config.plans.front().plan;
  generated_ = generated_accounts(
      workload_, *plan, [&](const std::string& n) { return reader_->intern_account(n); },
      [&](const std::string& n) { return reader_->intern_model(n); }, client_group_);
  for (auto& g : generated_) {
    const auto& name = reader_->accounts().name(g.account);
    if (!group_of_.count(name)) {
      const auto& group = client_group_[g.client];
      auto where = workload_.path.empty() ? "--client " + group : workload_.path;
      throw input_error::in(where, "client group " + group + ": its account " + name + " has no [account." +
                                       name + "] in " + request_.config +
                                       " (the cluster serves the accounts its config names)");
    }
    // Each client its own stream, as in simulate.
    models_.push_back(actors::clients::make_client(g.spec, policies::substream_seed(g.seed, g.client)));
  }
}

std::int64_t cluster_run::units_of(const row_run& r) const {
  const auto& name = account(r);
  // The reader resolved the cost in the first plan; this is the account's own.
  const auto& p = *plan_of_.at(name);
  const auto& named = p.named_models();
  auto mi = std::find(named.begin(), named.end(), model(r));
  std::uint32_t model_id = mi == named.end() ? policies::no_id : static_cast<std::uint32_t>(mi - named.begin());
  return p.cost_of(p.profile_of(name), model_id, r.own_cost);
}

std::optional<std::uint32_t> cluster_run::reach(std::uint32_t preferred) const {
  // With every member failing its checks, the load balancer sends to them
  // all the same (fails open), as common ones do.
  for (bool checked : {request_.health_check > 0, false})
    for (std::size_t i = 0; i < members_.size(); ++i) {
      auto m = static_cast<std::uint32_t>((preferred + i) % members_.size());
      if (members_[m].up && (!checked || members_[m].healthy)) return m;
    }
  return std::nullopt;
}

void cluster_run::probe(bool rows_left) {
  for (std::uint32_t m = 0; m < members_.size(); ++m) {
    // A paused process answers nothing: its check waits for its timeout.
    if (members_[m].up && members_[m].pauses > 0 && request_.health_timeout > 0)
      push(now() + request_.health_timeout, event::kind::probe_timeout, m);
    else
      checked(m);
  }
  // Probes go on while anything else is to come (so that a run ends).
  if (rows_left || !events_.empty()) push(now() + request_.health_check, event::kind::probe, 0);
}

void cluster_run::checked(std::uint32_t m) {
  auto& mr = members_[m];
  // A paused process answers no probe; /readyz is 503 without a majority.
  bool ok = mr.up && mr.pauses == 0 && mr.stats->majority;
  mr.checks_against = ok == mr.healthy ? 0 : mr.checks_against + 1;
  if (mr.checks_against < request_.health_threshold) return;
  log("lb", names_[m] + (ok ? " passed its health check" : " failed its health check"));
  mr.healthy = ok;
  mr.checks_against = 0;
}

int cluster_run::owner_of(std::uint32_t group, std::uint64_t* epoch) const {
  // The member holding the group that may grant now; one cut off may still
  // hold it (it grants nothing until it is voted out or reconnects).
  for (int pass = 0; pass < 2; ++pass)
    for (std::uint32_t m = 0; m < members_.size(); ++m) {
      auto& mr = members_[m];
      if (!mr.up || !mr.holds[group]) continue;
      auto node_now = std::chrono::duration_cast<std::chrono::microseconds>(clock_->now() - mr.epoch);
      if (pass == 0 && !mr.window->open(mr.generation, node_now.count())) continue;
      if (epoch) *epoch = mr.generation;
      return static_cast<int>(m);
    }
  return -1;
}

void cluster_run::load_reloads() {
  namespace fs = std::filesystem;
  // Each reload is checked against the member's one before it, as serve
  // checks it against the config applied (a later one may not remove what
  // an earlier one added).
  std::vector<const tools::node_config*> before;
  for (auto& m : members_) before.push_back(&m.config);
  for (auto& f : faults_) {
    if (f.what != sim_fault::kind::reload) continue;
    if (!f.with.empty()) {
      // `with`: --config's lines, and these last in their sections.
      f.file = f.text.substr(f.text.find(" with ") + 1);  // the configs' key: what it adds
      auto key = std::make_pair(f.member, f.file);
      if (auto known = reload_configs_.find(key); known != reload_configs_.end()) {
        before[f.member] = &known->second;
        continue;
      }
      traces::ini_file ini = base_ini_;
      for (auto& [k, v] : f.with) {
        auto section = k.substr(0, k.find('.', k.find('.') + 1));
        if (std::none_of(ini.sections.begin(), ini.sections.end(),
                         [&](const auto& s) { return s.first == section; })) {
          // An account's plan line adds the account (a reload adding one).
          if (section.rfind("account.", 0) != 0 || k != section + ".plan")
            throw input_error::in(request_.faults, f.text + ": no [" + section + "] in " + request_.config +
                                                       " (a new account's first key is its plan)");
          ini.sections.emplace_back(section, 0);
        }
        ini.entries.push_back(traces::ini_entry{section, k, v, 0, "(" + f.text + ")"});
      }
      auto next = node_config_from(ini, names_[f.member], false);
      if (auto why = cluster_reload_refusal(*before[f.member], next); !why.empty())
        throw input_error::in(request_.faults, f.text + ": refused, as usher serve would: " + why);
      add_groups(next);
      before[f.member] = &reload_configs_.emplace(key, std::move(next)).first->second;
      continue;
    }
    if (auto known = reload_configs_.find({f.member, f.file}); known != reload_configs_.end()) {
      before[f.member] = &known->second;
      continue;
    }
    // A relative FILE is next to the schedule.
    fs::path file = f.file;
    if (file.is_relative() && !request_.faults.empty())
      file = fs::path(request_.faults).parent_path() / file;
    f.file = file.string();
    auto key = std::make_pair(f.member, f.file);
    if (auto known = reload_configs_.find(key); known != reload_configs_.end()) {
      before[f.member] = &known->second;
      continue;
    }
    auto next = read_node_config(f.file, names_[f.member], false);
    if (auto why = cluster_reload_refusal(*before[f.member], next); !why.empty())
      throw input_error::in(request_.faults, "reload " + names_[f.member] + " from " + f.file +
                                                 ": refused, as usher serve would: " + why);
    add_groups(next);
    before[f.member] = &reload_configs_.emplace(key, std::move(next)).first->second;
  }
}

// SIGHUP: the member reads `file`; its cluster actor applies the limits
// with the others (serve's reload). Its restarts read the new file too.
void cluster_run::reload(std::uint32_t m, const std::string& file) {
  auto& mr = members_[m];
  const auto& next = reload_configs_.at({m, file});
  mr.config = next;
  if (!mr.up) return;
  mr.reloads.read(next);
  caf::anon_send(mr.cluster, actors::cluster::propose_limits_atom::value, next.cluster.limits_digest);
}

void cluster_run::start(std::uint32_t m, bool fresh) {
  auto& mr = members_[m];
  auto& node = mr.config;
  auto epoch = clock_->now();
  auto window = std::make_shared<actors::cluster::grant_window>();
  mr.window = window;
  mr.epoch = epoch;
  auto seed = policies::substream_seed(request_.seed, m, mr.starts) | 1;
  mr.admission = std::make_unique<serve_actors>(*sys_, node, epoch, 0, window, seed);
  actors::cluster::cluster_node_config cc;
  cc.cluster = node.cluster;
  cc.groups = mr.admission->placement_groups(node);
  cc.window = window;
  cc.stats = std::make_shared<actors::cluster::cluster_stats>();
  stats_.push_back(cc.stats);
  mr.stats = cc.stats;
  cc.lease_ttl = node.lease_ttl;
  // The cluster's first start has no clients yet; a member restarting after
  // a crash recovers as its config says (serve's `recovery`).
  cc.start_recovery_until = fresh ? 0 : node.recovery;
  cc.fresh_recovery =
      fresh || node.recovery <= 0 ? 0 : node.recovery + node.cluster.failure_timeout;
  cc.epoch = epoch;
  cc.incarnation = policies::substream_seed(request_.seed, 1000 + m, mr.starts) | 1;
  auto name = names_[m];
  cc.log = [this, name](bool, const std::string& text) { log(name, text); };
  cc.link = [this, m](std::uint32_t to) { return net_->link(m, to); };
  cc.on_hold = [this, m](const std::string& group, bool holds, std::uint64_t generation) {
    members_[m].holds[group_index_.at(group)] = holds;
    members_[m].generation = generation;
  };
  cc.on_limits = [this, m](const std::string& digest) -> std::vector<actors::cluster::served_group> {
    auto read = members_[m].reloads.switched(digest);
    if (!read) return {};
    if (auto why = members_[m].admission->reload(*read); !why.empty()) {
      log(names_[m], "cannot apply the reloaded limits: " + why);
      return {};
    }
    log(names_[m], "reloaded limits applied with the cluster");
    auto groups = members_[m].admission->placement_groups(*read);
    // Its new actors are its process's: a pause holds them too.
    for (auto& a : members_[m].admission->all()) members_[m].actors.insert(a.id());
    return groups;
  };
  mr.reloads = cluster_reloads(node.cluster.limits_digest);  // a new process has read nothing
  ++mr.starts;
  mr.cluster = actors::cluster::spawn_cluster_node(*sys_, std::move(cc));
  mr.actors.clear();
  mr.actors.insert(mr.cluster.id());
  for (auto& a : mr.admission->all()) mr.actors.insert(a.id());
  std::fill(mr.holds.begin(), mr.holds.end(), false);
  mr.up = true;
  mr.pauses = 0;
  net_->started(m, mr.cluster);
}

void cluster_run::crash(std::uint32_t m) {
  auto& mr = members_[m];
  if (!mr.up) return;
  unpark(m);  // a paused process is killed all the same
  caf::anon_send_exit(mr.cluster, caf::exit_reason::kill);
  for (auto& a : mr.admission->all()) caf::anon_send_exit(a, caf::exit_reason::kill);
  net_->crashed(m);
  mr.up = false;
  mr.pauses = 0;
  std::fill(mr.holds.begin(), mr.holds.end(), false);
  // Its clients' connections are reset: what they waited for never comes.
  // A ticket client polls again at once (the ticket lives at its owner).
  std::vector<std::size_t> never_opened;
  for (auto r : waiting_at_[m]) {
    if (tickets_.count(r)) {
      ++tickets_[r].poll;
      push(now(), event::kind::poll, r);
      continue;
    }
    auto& row = rows_[r];
    row.answered = true;
    row.answered_at = now();
    row.code = 502;
    row.why = "entry_crashed";
    attempt_over(r, policies::status::failed);  // a reset connection: the SDK retries it
    socket_asked_.erase(r);
    if (row.a.req.what == policies::kind::ws_open) never_opened.push_back(r);
  }
  waiting_at_[m].clear();
  for (auto r : never_opened) opened(r);
  // Its WebSockets drop: what was held over them ends now (their owner
  // frees it a TTL after its last renewal).
  for (std::size_t s = 0; s < sockets_.size(); ++s)
    if (sockets_[s].open && sockets_[s].member == m) close_socket(s, "closed");
}

void cluster_run::unpark(std::uint32_t m) {
  auto& ids = members_[m].actors;
  std::vector<caf::resumable*> keep;
  for (auto* job : parked_) {
    auto* actor = dynamic_cast<caf::abstract_actor*>(job);
    if (actor && ids.count(actor->id())) sched_->jobs.push_back(job);
    else keep.push_back(job);
  }
  parked_ = std::move(keep);
}

void cluster_run::apply(const sim_fault& f) {
  using kind = sim_fault::kind;
  log("fault", f.text);
  switch (f.what) {
    case kind::crash: crash(f.member); break;
    case kind::restart:
      if (!members_[f.member].up) start(f.member, false);
      break;
    case kind::pause:
      if (members_[f.member].up) ++members_[f.member].pauses;
      break;
    case kind::resume:  // the end of one pause; another may still hold it
      if (members_[f.member].pauses > 0 && --members_[f.member].pauses == 0) unpark(f.member);
      break;
    case kind::partition: net_->partition(f.pair, f.side); break;
    case kind::heal: net_->heal(f.pair); break;
    case kind::delay: net_->set_delay(f.min, f.max); break;
    case kind::drop:
      if (f.window) drop_windows_.insert(f.probability);
      else base_drop_ = f.probability;
      set_drop();
      break;
    case kind::drop_end:
      if (auto w = drop_windows_.find(f.probability); w != drop_windows_.end()) drop_windows_.erase(w);
      set_drop();
      break;
    case kind::reload: reload(f.member, f.file); break;
  }
}

void cluster_run::add_drivers(std::size_t n) {
  while (drivers_.size() < n) {
    auto k = drivers_.size();
    driver_next_.emplace_back();
    // (The run goes in as an argument: CAF 0.17 binds a reference to a null
    // pointer for a function actor spawned without one, which UBSan reports.)
    drivers_.push_back(sys_->spawn(
        [k](caf::event_based_actor* self, cluster_run* run) -> caf::behavior {
          return {[run, self, k](go_atom) {
            auto [m, f] = std::exchange(run->driver_next_[k], outgoing{});
            if (f && run->members_[m].up) f(self, run->members_[m].cluster);
          }};
        },
        this));
  }
}

void cluster_run::dispatch() {
  add_drivers(outbox_.size());
  if (next_driver_ + outbox_.size() > drivers_.size()) next_driver_ = 0;
  for (auto& o : outbox_) {  // one each: every driver ran since the last batch
    auto k = next_driver_++;
    driver_next_[k] = std::move(o);
    caf::anon_send(drivers_[k], go_atom::value);
  }
  outbox_.clear();
}

// Runs every actor that has messages, except a paused member's: its jobs
// wait, their mailboxes filling, as a stopped process's sockets do.
void cluster_run::run_ready() {
  std::set<caf::actor_id> paused;
  for (auto& m : members_)
    if (m.pauses > 0) paused.insert(m.actors.begin(), m.actors.end());
  while (!sched_->jobs.empty()) {
    auto* job = sched_->jobs.front();
    if (!paused.empty()) {
      auto* actor = dynamic_cast<caf::abstract_actor*>(job);
      if (actor && paused.count(actor->id())) {
        sched_->jobs.pop_front();
        parked_.push_back(job);
        continue;
      }
    }
    sched_->run_once();
  }
}

void cluster_run::arrive(std::size_t r) {
  using policies::kind;
  auto& row = rows_[r];
  auto what = row.a.req.what;
  std::optional<std::uint32_t> to;
  std::size_t socket = no_socket;
  if (what == kind::ws_request || what == kind::ws_close || what == kind::ws_open) {
    auto s = socket_of_.find({row.a.req.account, row.a.req.conn});
    if (s != socket_of_.end()) socket = s->second;
  }
  if (what == kind::ws_open && socket != no_socket) {
    // Open already: not counted again (as simulate), nothing more held.
    admit_reply open;
    decided(r, open);
    return;
  }
  if (what == kind::ws_request || what == kind::ws_close) {
    if (socket == no_socket) {
      if (auto o = opening_.find({row.a.req.account, row.a.req.conn}); o != opening_.end()) {
        o->second.push_back(r);  // sent once the connection is open
        return;
      }
      // No socket to send it over.
      admit_reply none;
      none.code = 400;
      none.why = policies::reason::no_connection;
      decided(r, none);
      return;
    }
    row.node = sockets_[socket].member;
    if (what == kind::ws_close) {
      admit_reply closed;
      decided(r, closed);
      close_socket(socket, "released");
      return;
    }
    to = row.node;
  } else {
    to = reach(row.node);
  }
  if (!to) {
    row.answered = true;
    row.answered_at = now();
    row.code = 502;
    row.why = "no_member_up";
    attempt_over(r, policies::status::failed);
    return;
  }
  row.node = *to;
  waiting_at_[*to].insert(r);
  // A generated attempt gives up at its client's own timeout (the SDK's);
  // a trace row at --client-timeout's.
  usec gives_up = row.a.client != policies::no_client ? row.a.deadline
                  : request_.client_timeout > 0       ? now() + request_.client_timeout
                                                      : never;
  if (gives_up != never) push(gives_up, event::kind::give_up, r);
  admit_request req;
  req.account = account(row);
  req.request_id = request_id(r);
  req.model = model(row);
  req.product = product(row);
  // The trace's key, as a live node's edge gives the key a request came
  // with: per-key gates (key_cap) count by it.
  req.key = row.a.req.key;
  req.cost = row.own_cost;
  req.tokens = row.a.req.tokens;
  req.priority = row.a.req.priority;
  req.what = what;
  if (what == kind::ws_open) {
    req.conn = req.request_id;
    req.holder_is_connection = true;
    opening_.try_emplace({row.a.req.account, row.a.req.conn});
  } else if (what == kind::ws_request) {
    req.conn = sockets_[socket].conn;
    req.holder_is_connection = true;
    socket_asked_[r] = socket;
  } else {
    req.async = request_.tickets;
  }
  follow(r, [&] { return "sent to " + names_[*to]; });
  send(*to, [this, r, req](caf::event_based_actor* self, const caf::actor& node) {
    self->request(node, caf::infinite, req)
        .then([this, r](const admit_reply& reply) { answered(r, reply); }, [](caf::error&) {});
  });
}

void cluster_run::answered(std::size_t r, const admit_reply& reply) {
  auto& row = rows_[r];
  if (row.answered) {
    // Its client gave up first (or its member crashed: then nothing comes).
    // A grant nobody takes is let go at once, as the edge's lease handle does.
    if (reply.code == 200 && !reply.lease.empty()) send_release(account(row), reply.lease, reach(row.node));
    return;
  }
  waiting_at_[row.node].erase(r);
  if (reply.code == 202 && !reply.ticket.empty()) {
    follow(r, [&] { return "answered 202: ticket " + reply.ticket; });
    tickets_[r].ticket = reply.ticket;
    poll(r);
    return;
  }
  decided(r, reply);
}

void cluster_run::poll(std::size_t r) {
  auto& row = rows_[r];
  auto& t = tickets_.at(r);
  auto to = reach(row.node);
  if (!to) {
    tickets_.erase(r);
    admit_reply none;
    none.code = 502;
    decided(r, none);
    row.why = "no_member_up";
    return;
  }
  t.at = *to;
  auto seq = ++t.poll;
  waiting_at_[*to].insert(r);
  follow(r, [&] { return "polls its ticket through " + names_[*to]; });
  ticket_poll q{account(row), t.ticket};
  send(*to, [this, r, seq, q](caf::event_based_actor* self, const caf::actor& node) {
    self->request(node, caf::infinite, q)
        .then([this, r, seq](const admit_reply& reply) { poll_answered(r, seq, reply); },
              [](caf::error&) {});
  });
}

void cluster_run::poll_answered(std::size_t r, std::uint64_t seq, const admit_reply& reply) {
  auto i = tickets_.find(r);
  if (i == tickets_.end() || i->second.poll != seq) return;  // stale: polled again since
  auto& t = i->second;
  waiting_at_[t.at].erase(r);
  if (reply.code == 202) return poll(r);  // still queued: ask again at once
  if (reply.code == 503 && ++t.refused <= max_ticket_retries) {
    // Retry-After, as a client honours it: the cluster may recover, the ticket still count.
    push(now() + policies::seconds(std::max<std::int64_t>(1, reply.retry_after_s)), event::kind::poll, r);
    return;
  }
  tickets_.erase(i);
  decided(r, reply);
  auto& row = rows_[r];
  if (reply.code == 404) row.why = "ticket_lost";  // its owner forgot it (a takeover)
  if (reply.code == 410) row.why = "lease_ended";  // granted, but over before it was collected
}

void cluster_run::give_up(std::size_t r) {
  auto& row = rows_[r];
  if (row.answered) return;
  const auto& name = account(row);
  if (auto t = tickets_.find(r); t != tickets_.end()) {
    waiting_at_[t->second.at].erase(r);
    if (auto to = reach(row.node)) {
      actors::ticket_cancel cancel{name, t->second.ticket};
      send(*to, [cancel](caf::event_based_actor* self, const caf::actor& node) {
        self->request(node, caf::infinite, cancel).then([](const lease_reply&) {}, [](caf::error&) {});
      });
    }
    tickets_.erase(t);
  } else {
    waiting_at_[row.node].erase(r);
    socket_asked_.erase(r);
    if (members_[row.node].up) {
      actors::cancel_request cancel{name, request_id(r)};
      send(row.node, [cancel](caf::event_based_actor* self, const caf::actor& node) {
        self->send(node, cancel);
      });
    }
  }
  row.answered = true;
  row.answered_at = now();
  row.code = 499;
  row.why = "client_timeout";
  follow(r, [] { return "gives up: 499 client_timeout"; });
  attempt_over(r, policies::status::client_closed);
  if (row.a.req.what == policies::kind::ws_open) opened(r);
}

void cluster_run::decided(std::size_t r, const admit_reply& reply) {
  record(r, reply);
  if (rows_[r].a.req.what == policies::kind::ws_open) opened(r);
}

void cluster_run::opened(std::size_t r) {
  const auto& row = rows_[r];
  auto o = opening_.find({row.a.req.account, row.a.req.conn});
  if (o == opening_.end()) return;
  auto sent = std::move(o->second);
  opening_.erase(o);
  for (auto w : sent) arrive(w);
}

void cluster_run::record(std::size_t r, const admit_reply& reply) {
  auto& row = rows_[r];
  row.answered = true;
  row.answered_at = now();
  row.code = reply.code;
  row.why = policies::to_string(reply.why);
  row.wait = reply.waited_us;
  if (reply.code != 200) {
    follow(r, [&] { return "answered " + std::to_string(reply.code) + " " + std::string(row.why); });
    attempt_over(r, client_status(reply.code), policies::seconds(reply.retry_after_s));
    return;
  }
  auto t = now();
  row.start = t;
  row.end = t + row.a.duration;
  if (row.a.deadline < row.end) {
    // Its client's timeout comes before its answer is complete: it hangs
    // up then (499), and its lease ends with it (as simulate cuts it).
    row.end = row.a.deadline;
    row.code = 499;
    row.why = "client_timeout";
  }
  // Its client knows now when its answer ends (as in simulate).
  attempt_over(r, row.code == 499 ? policies::status::client_closed : policies::status::ok);
  if (reply.lease.empty()) {  // a ws_close, or a ws_open of a connection open already
    row.end = t;
    return;
  }
  if (reply.limit >= 0) {
    if (limit_of_.size() <= row.a.req.account) limit_of_.resize(row.a.req.account + 1, -1);
    auto& limit = limit_of_[row.a.req.account];
    limit = std::max(limit, reply.limit);
  }
  row.granted = true;
  lease_run l;
  l.row = r;
  l.lease = reply.lease;
  l.owner = owner_of(row.group, &l.epoch);
  row.owner = l.owner;
  follow(r, [&] {
    return "answered 200: lease " + reply.lease + " from " + (l.owner < 0 ? "?" : member_name(l.owner)) +
           " (epoch " + std::to_string(l.epoch) + "), held until " + policies::format_seconds(row.end);
  });
  l.granted = t;
  l.last_ok = t;
  l.ttl = reply.lease_ttl_ms * 1000;
  l.limit = reply.limit;
  auto index = leases_.size();
  if (row.a.req.what == policies::kind::ws_open) {
    l.socket = sockets_.size();
    socket_of_[{row.a.req.account, row.a.req.conn}] = l.socket;
    sockets_.push_back(socket_run{request_id(r), row.node, index, {}, true});
  } else if (row.a.req.what == policies::kind::ws_request) {
    auto asked = socket_asked_.find(r);
    l.socket = asked->second;
    socket_asked_.erase(asked);
  }
  leases_.push_back(std::move(l));
  if (leases_[index].socket != no_socket && row.a.req.what == policies::kind::ws_request) {
    auto& socket = sockets_[leases_[index].socket];
    if (!socket.open) {  // it closed while the request was on its way: the edge lets it go
      stop_holding(index, "closed");
      send_release(index, holder_member(leases_[index]));
      return;
    }
    socket.requests.push_back(index);
  }
  push(row.end, event::kind::release, index);
  // A holder renews every third of its TTL, as the edge's lease keeper does.
  if (leases_[index].ttl > 0) {
    push_while_held(t + leases_[index].ttl / 3, event::kind::renew, index);
    push_while_held(t + leases_[index].ttl * 2 / 3, event::kind::check, index);
  }
}

void cluster_run::stop_holding(std::size_t l, const char* how) {
  auto& lease = leases_[l];
  // A holder that ignores the API's rules goes on to its end.
  if (request_.holders_keep_going && std::string_view(how) == "lost") {
    if (lease.released < 0 && !lease.lost_but_held)
      follow(lease.row, [] { return "lost its lease and goes on using it (--holders-keep-going)"; });
    lease.lost_but_held = true;
    return;
  }
  if (lease.released >= 0) return;
  // A lease lost over a WebSocket: the edge closes the socket (1013), and
  // every lease held over it ends.
  if (lease.socket != no_socket && std::string_view(how) == "lost" && sockets_[lease.socket].open) {
    close_socket(lease.socket, how);
    return;
  }
  end_lease(l, how);
}

void cluster_run::end_lease(std::size_t l, const char* how) {
  auto& lease = leases_[l];
  lease.released = now();
  lease.how = how;
  follow(lease.row, [&] { return std::string("stops using its lease: ") + how; });
  auto& row = rows_[lease.row];
  row.end = std::min(row.end, lease.released);
}

void cluster_run::attempt_over(std::size_t r, policies::status code, usec retry_after) {
  auto& row = rows_[r];
  auto c = row.a.client;
  if (c == policies::no_client) return;
  actors::clients::attempt_result result;
  result.request = row.a.request_no;
  result.number = row.a.attempt_no;
  result.code = code;
  result.start = row.start;
  result.end = row.start >= 0 ? row.end : -1;
  result.retry_after = retry_after;
  row.final = models_[c]->on_result(result, now());
  arm(c);
}

void cluster_run::wake(std::uint32_t c) {
  auto& model = *models_[c];
  auto t = now();
  if (model.next_wakeup() != t) return;  // stale: woken already
  sent_.clear();
  model.wake(t, sent_);
  const auto& g = generated_[c];
  auto first = rows_.size();
  for (auto& x : sent_) {
    row_run row;
    row.a = actors::clients::arrival_of(x, g.account, g.model, c);
    row.own_cost = g.spec.cost;
    row.group = group_of_.at(account(row));
    row.units = units_of(row);
    row.a.req.cost = row.units;
    row.node = next_entry();
    rows_.push_back(std::move(row));
    last_arrival_ = std::max(last_arrival_, x.at);
  }
  // Those of one instant enter together, as a trace's rows of one instant.
  for (auto r = first; r < rows_.size(); ++r) arrive(r);
  arm(c);
}

std::string cluster_run::id_of(std::size_t r) const {
  const auto& row = rows_[r];
  if (row.a.client != policies::no_client)
    return account(row) + "#" + std::to_string(row.a.request_no) + "." + std::to_string(row.a.attempt_no);
  return row.id.empty() ? std::to_string(r + 1) : row.id;
}

void cluster_run::write_id(traces::csv_out& out, std::size_t r) const {
  const auto& row = rows_[r];
  // A row number as a number: no string for every row of the trace.
  if (row.a.client == policies::no_client && row.id.empty()) out.field(static_cast<std::int64_t>(r + 1));
  else out.field(id_of(r));
}

std::optional<std::uint32_t> cluster_run::holder_member(const lease_run& l) const {
  if (l.socket == no_socket) return reach(rows_[l.row].node);
  auto m = sockets_[l.socket].member;
  if (!members_[m].up) return std::nullopt;
  return m;
}

void cluster_run::send_release(const std::string& account, const std::string& lease,
                               std::optional<std::uint32_t> member, std::uint32_t output_tokens) {
  if (!member) return;
  lease_request rel(account, lease, lease_op::release);
  rel.output_tokens = output_tokens;
  send(*member, [rel](caf::event_based_actor* self, const caf::actor& node) {
    self->request(node, caf::infinite, rel).then([](const lease_reply&) {}, [](caf::error&) {});
  });
}

void cluster_run::close_socket(std::size_t s, const char* how) {
  auto& socket = sockets_[s];
  if (!socket.open) return;
  socket.open = false;
  auto& opened = rows_[leases_[socket.lease].row];
  auto key = std::make_pair(opened.a.req.account, opened.a.req.conn);
  if (auto i = socket_of_.find(key); i != socket_of_.end() && i->second == s) socket_of_.erase(i);
  auto member = holder_member(leases_[socket.lease]);
  auto ends = socket.requests;
  ends.push_back(socket.lease);
  socket.requests.clear();
  for (auto l : ends) {
    if (leases_[l].released >= 0) continue;
    end_lease(l, how);
    send_release(l, member);
  }
}

void cluster_run::holder_event(const event& e) {
  auto l = e.index;
  auto& lease = leases_[l];
  if (lease.released >= 0) return;  // it stopped already
  auto& row = rows_[lease.row];
  auto to = holder_member(lease);
  switch (e.what) {
    case event::kind::release: {
      if (lease.socket != no_socket) {
        auto& socket = sockets_[lease.socket];
        if (socket.lease == l) return close_socket(lease.socket, "released");  // the connection ends
        auto& on = socket.requests;
        on.erase(std::remove(on.begin(), on.end(), l), on.end());
      }
      stop_holding(l, "released");
      send_release(l, to);
      return;
    }
    case event::kind::renew: {
      push_while_held(now() + lease.ttl / 3, event::kind::renew, l);
      if (!to) return;
      lease_request renew(account(row), lease.lease, lease_op::renew);
      renew.model = model(row);
      renew.product = product(row);
      renew.cost = row.own_cost;
      // The terms the edge renews a WebSocket's leases with: a recovering
      // owner adopts them as they were (docs/CLUSTER.md).
      if (lease.socket != no_socket) {
        renew.conn = sockets_[lease.socket].conn;
        renew.holds_connection = sockets_[lease.socket].lease == l;
        renew.key = row.a.req.key;
      }
      // Counted from when it was sent, as the lease keeper counts: the owner
      // renewed it no earlier.
      auto sent = now();
      follow(lease.row, [&] { return "renews through " + names_[*to]; });
      send(*to, [this, l, renew, sent](caf::event_based_actor* self, const caf::actor& node) {
        self->request(node, caf::infinite, renew)
            .then(
                [this, l, sent](const lease_reply& reply) {
                  auto& lease = leases_[l];
                  if (lease.released >= 0) return;
                  follow(lease.row, [&] { return "renewal answered " + std::to_string(reply.code); });
                  if (reply.code == 200) {
                    if (reply.ttl_ms > 0) lease.ttl = reply.ttl_ms * 1000;
                    lease.last_ok = std::max(lease.last_ok, sent);
                    push_while_held(lease.last_ok + lease.ttl * 2 / 3, event::kind::check, l);
                  } else if (reply.code == 404) {
                    stop_holding(l, "lost");  // the owner no longer knows it: stop at once
                  }
                },
                [](caf::error&) {});
      });
      return;
    }
    case event::kind::check:
      // No 200 for two thirds of a TTL: the holder stops (the lease keeper's rule).
      if (now() - lease.last_ok >= lease.ttl * 2 / 3) stop_holding(l, "lost");
      return;
    case event::kind::fault:
    case event::kind::poll:
    case event::kind::give_up:
    case event::kind::wake:
    case event::kind::probe:
    case event::kind::probe_timeout: return;
  }
}

cluster_sim_totals cluster_run::run() {
  sys_cfg_ = std::make_unique<caf::actor_system_config>();
  actors::add_message_types(*sys_cfg_);
  actors::cluster::add_cluster_message_types(*sys_cfg_);
  sys_cfg_->set("scheduler.policy", caf::atom("testing"));
  sys_cfg_->set("logger.verbosity", caf::atom("quiet"));
  sys_ = std::make_unique<caf::actor_system>(*sys_cfg_);
  sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
  clock_ = &sched_->clock();
  // The members start two failure timeouts before the trace's time 0, so
  // that the cluster has formed when the first request comes.
  origin_ = clock_->now() + std::chrono::microseconds(2 * members_[0].config.cluster.failure_timeout);
  net_ = std::make_unique<actors::cluster::sim_network>(
      *sys_, members_.size(), policies::substream_seed(request_.seed, policies::stable_hash("net")));
  add_drivers(64);
  for (std::uint32_t m = 0; m < members_.size(); ++m) start(m, true);
  for (std::size_t f = 0; f < faults_.size(); ++f) push(faults_[f].at, event::kind::fault, f);
  for (std::uint32_t c = 0; c < models_.size(); ++c) arm(c);
  if (request_.health_check > 0) push(request_.health_check, event::kind::probe, 0);

  // Runs until every row is answered, every holder is done and every client
  // has stopped, then a few seconds more for the last releases to reach
  // their owners. A request never answered (its message lost) waits at
  // most an hour past the last row.
  usec settle_until = never;
  std::size_t next_row = 0;
  for (;;) {
    run_ready();
    if (!outbox_.empty()) {
      dispatch();
      continue;
    }
    usec t_row = next_row < trace_rows_ ? rows_[next_row].a.at : never;
    usec t_event = events_.empty() ? never : events_.top().at;
    usec t_timer = clock_->has_pending_timeout()
                       ? std::chrono::duration_cast<std::chrono::microseconds>(
                             clock_->schedule().begin()->first - origin_).count()
                       : never;
    if (next_row == trace_rows_ && events_.empty()) {
      bool waiting = false;
      for (auto& w : waiting_at_) waiting = waiting || !w.empty();
      if (!waiting && settle_until == never) settle_until = now() + policies::seconds(5);
      usec limit = waiting ? last_arrival_ + policies::seconds(3600) : settle_until;
      if (t_timer == never || t_timer > limit) break;
    }
    usec t = std::min({t_row, t_event, t_timer});
    if (t == never) break;
    if (t > now()) clock_->current_time = origin_ + std::chrono::microseconds(t);
    if (t_timer == t) {
      clock_->trigger_timeout();
    } else if (t_event == t) {
      auto e = events_.top();
      events_.pop();
      if (e.what == event::kind::fault) apply(faults_[e.index]);
      else if (e.what == event::kind::poll) {
        if (tickets_.count(e.index)) poll(e.index);
      } else if (e.what == event::kind::give_up) {
        give_up(e.index);
      } else if (e.what == event::kind::wake) {
        wake(static_cast<std::uint32_t>(e.index));
      } else if (e.what == event::kind::probe) {
        probe(next_row < trace_rows_);
      } else if (e.what == event::kind::probe_timeout) {
        checked(static_cast<std::uint32_t>(e.index));
      } else {
        holder_event(e);
      }
    } else {
      // Rows of one instant enter together, as requests of one instant
      // reach a live node's actors together (the cluster actor then sends
      // their grants to a backup in one message).
      do arrive(next_row++);
      while (next_row < trace_rows_ && rows_[next_row].a.at == t);
    }
  }
  auto totals = finish();
  // Every member stops; nothing is left running.
  for (std::uint32_t m = 0; m < members_.size(); ++m) crash(m);
  for (auto& d : drivers_) caf::anon_send_exit(d, caf::exit_reason::kill);
  for (auto* job : parked_) sched_->jobs.push_back(job);
  parked_.clear();
  sched_->run();
  net_.reset();
  sched_->run();
  return totals;
}

struct held_change {
  usec at = 0;
  std::int64_t units = 0;   ///< + at a grant, - at its end
  std::int64_t limit = -1;  ///< the lease's: the limit its owner applied to it; -1: none said
};

// Walks the changes of what an account's holders had at once: the most at
// one instant, and what was above the limit, the most, integrated over
// time in seconds, and its first instant (kept when `first_over` is earlier). The limit is the highest its holders' grants were made
// under (`limit` while none said one; -1: none). With limits that never
// change that is the limit; through a reload it is exact for a raise, and
// for a lowered limit it stays the old one until the last lease granted
// under it ends (nothing held is taken back, so units above the new limit
// are no fault then). Why it bounds what a correct cluster holds: of the
// leases held at an instant, the one decided last was granted with every
// other one already held, so they all fit its limit. A holder that stops at
// the instant another starts does not overlap it (the stop sorts first).
void held_over(std::vector<held_change>& changes, std::int64_t limit, std::int64_t& max_held,
               std::int64_t& max_over, double& seconds_over, usec& first_over) {
  std::stable_sort(changes.begin(), changes.end(), [](const held_change& a, const held_change& b) {
    return a.at != b.at ? a.at < b.at : a.units < b.units;
  });
  std::int64_t held = 0;
  std::multiset<std::int64_t> limits;  // of the leases held
  const std::int64_t unsaid = limit;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    held += changes[i].units;
    if (changes[i].limit >= 0 && changes[i].units != 0) {  // (a connection's own lease holds no units)
      if (changes[i].units > 0) limits.insert(changes[i].limit);
      else if (auto held_under = limits.find(changes[i].limit); held_under != limits.end())
        limits.erase(held_under);  // (always found: every lease counted ends after its grant)
    }
    limit = limits.empty() ? unsaid : *limits.rbegin();
    max_held = std::max(max_held, held);
    if (limit < 0 || held <= limit || i + 1 == changes.size()) continue;
    auto over = held - limit;
    max_over = std::max(max_over, over);
    if (first_over < 0 || changes[i].at < first_over) first_over = changes[i].at;
    seconds_over += static_cast<double>(over) * static_cast<double>(changes[i + 1].at - changes[i].at) / 1e6;
  }
}

cluster_sim_totals cluster_run::finish() {
  cluster_sim_totals t;
  t.messages_lost = net_->lost();
  using kind = sim_fault::kind;
  for (auto& f : faults_) {
    t.faults.push_back(policies::format_seconds(f.at) + " " + f.text);
    if (f.what == kind::resume || f.what == kind::heal || f.what == kind::drop_end) continue;  // a line's end
    if (f.what == kind::reload && f.with.empty())
      t.schedule.push_back("reload " + names_[f.member] + " at " + seconds_text(f.at) + " " +
                           std::filesystem::absolute(f.file).string());
    else
      t.schedule.push_back(f.text);
  }
  struct account_stats {
    std::uint64_t requests = 0, admitted = 0, refused_503 = 0, unanswered = 0, leases = 0, lost = 0;
    std::int64_t max_held = 0, max_over = 0;
    double unit_seconds_over = 0;
    std::vector<held_change> changes;  ///< units + at a grant, - at its end
    // The same for open WebSocket connections, against the plan's cap.
    std::int64_t max_connections = 0, max_connections_over = 0;
    double connection_seconds_over = 0;
    std::vector<held_change> connections;
    usec outage_from = -1;  ///< the first request refused by the cluster since the last 200
    usec unavailable = 0, longest = 0;
    void outage_ends(usec at) {
      if (outage_from < 0) return;
      unavailable += at - outage_from;
      longest = std::max(longest, at - outage_from);
      outage_from = -1;
    }
  };
  std::vector<account_stats> by_id(reader_->accounts().size());
  // The rows in arrival order: the trace's, with the generated attempts
  // among them (a trace row first at one instant).
  std::vector<std::size_t> order(rows_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (trace_rows_ < rows_.size())
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return rows_[x].a.at < rows_[y].a.at; });
  // Unavailable: from the moment the cluster refused a request (503, or
  // lost it with the member it entered at) to the arrival of the account's
  // next request its plan answers (200, 429, 408: the cluster works for it
  // again), in arrival order. A request queued before a fault and refused
  // at it counts from the refusal.
  for (auto i : order) {
    const auto& row = rows_[i];
    auto& a = by_id[row.a.req.account];
    ++a.requests;
    if (!row.answered) ++a.unanswered;
    else if (row.granted) ++a.admitted;
    else if (row.code == 503) ++a.refused_503;
    bool refused = row.answered && (row.code == 503 || row.code == 502);
    if (refused && a.outage_from < 0) a.outage_from = row.answered_at;
    if (row.answered && !refused && row.a.at > a.outage_from) a.outage_ends(row.a.at);
  }
  usec end = last_arrival_;
  for (auto& a : by_id) {
    if (a.outage_from >= 0) ++t.unavailable_at_end;
    a.outage_ends(end);
  }
  for (auto& l : leases_) {
    auto& row = rows_[l.row];
    auto& a = by_id[row.a.req.account];
    ++a.leases;
    if (l.how == "lost") ++a.lost;
    if (l.released == l.granted) continue;  // ended at its grant (its client gone): held nothing
    a.changes.push_back({l.granted, row.units, l.limit});
    a.changes.push_back({l.released, -row.units, l.limit});
    if (row.a.req.what == policies::kind::ws_open) {
      // The connection cap is ws.per_concurrency times the limit of the moment.
      const auto& plan = *plan_of_.at(account(row));
      const auto& prof = plan.profile(plan.profile_of(account(row)));
      bool scaled = prof.max_connections > 0 && prof.limit > 0 && l.limit >= 0;
      std::int64_t cap = scaled ? prof.max_connections / prof.limit * l.limit : -1;
      a.connections.push_back({l.granted, 1, cap});
      a.connections.push_back({l.released, -1, cap});
    }
  }
  // The units each account's holders used at once, from the leases alone
  // (what anyone can recompute from leases.csv): a holder that stops at the
  // instant another starts does not overlap it.
  usec first_over = -1;  // the first instant an account held more than its limit (or cap)
  auto json_accounts = nlohmann::json::object();
  std::map<std::string, std::uint32_t> by_name;  // summary.json lists them by name
  for (std::uint32_t id = 0; id < by_id.size(); ++id) by_name[reader_->accounts().name(id)] = id;
  for (auto& [name, id] : by_name) {
    auto& a = by_id[id];
    std::int64_t limit = id < limit_of_.size() ? limit_of_[id] : -1;
    usec account_over = -1;
    held_over(a.changes, limit, a.max_held, a.max_over, a.unit_seconds_over, account_over);
    const auto& plan = *plan_of_.at(name);
    std::int64_t cap = plan.profile(plan.profile_of(name)).max_connections;
    held_over(a.connections, cap, a.max_connections, a.max_connections_over, a.connection_seconds_over,
              account_over);
    if (account_over >= 0 && (first_over < 0 || account_over < first_over)) {
      first_over = account_over;
      t.first_over_account = name;
    }
    t.requests += a.requests;
    t.admitted += a.admitted;
    t.refused_503 += a.refused_503;
    t.unanswered += a.unanswered;
    t.leases += a.leases;
    t.leases_lost += a.lost;
    t.unit_seconds_over += a.unit_seconds_over;
    t.max_over = std::max(t.max_over, a.max_over);
    t.connection_seconds_over += a.connection_seconds_over;
    t.max_connections_over = std::max(t.max_connections_over, a.max_connections_over);
    t.unavailable_s += static_cast<double>(a.unavailable) / 1e6;
    t.longest_unavailable_s = std::max(t.longest_unavailable_s, static_cast<double>(a.longest) / 1e6);
    json_accounts[name] = {{"limit", limit},
                           {"max_units_held", a.max_held},
                           {"max_units_over_limit", a.max_over},
                           {"unit_seconds_over_limit", a.unit_seconds_over},
                           {"requests", a.requests},
                           {"admitted", a.admitted},
                           {"refused_503", a.refused_503},
                           {"unavailable_s", static_cast<double>(a.unavailable) / 1e6},
                           {"longest_unavailable_s", static_cast<double>(a.longest) / 1e6},
                           {"unanswered", a.unanswered},
                           {"leases", a.leases},
                           {"leases_lost", a.lost}};
    if (account_over >= 0) json_accounts[name]["first_over_limit_s"] = static_cast<double>(account_over) / 1e6;
    if (!a.connections.empty()) {
      auto& j = json_accounts[name];
      j["connection_cap"] = cap;
      j["max_connections_held"] = a.max_connections;
      j["max_connections_over_cap"] = a.max_connections_over;
      j["connection_seconds_over_cap"] = a.connection_seconds_over;
    }
  }
  t.first_over = first_over;
  // What each generated client achieved, as simulate reports it.
  std::vector<std::pair<std::uint32_t, actors::clients::client_stats>> client_stats;
  for (std::uint32_t c = 0; c < models_.size(); ++c) client_stats.emplace_back(c, models_[c]->stats());
  if (!models_.empty()) t.clients_table = clients_table(workload_, client_stats, client_group_);
  if (request_.out_dir.empty()) return t;
  namespace fs = std::filesystem;
  fs::path dir(request_.out_dir);
  {
    traces::csv_out out((dir / "outcomes.csv").string());
    for (auto* h : {"id", "account", "key", "model", "arrival_s", "start_s", "end_s", "wait_s",
                    "status", "queued", "reason", "node", "owner"})
      out.field(h);
    bool with_clients = !models_.empty();
    if (with_clients)
      for (auto* h : {"client", "request", "attempt", "final"}) out.field(h);
    bool with_priority = reader_->has_priority();
    if (with_priority) out.field("priority");
    out.end_row();
    for (auto i : order) {
      const auto& row = rows_[i];
      write_id(out, i);
      out.field(account(row));
      if (row.a.req.key == policies::no_id) out.empty();
      else out.field(reader_->keys().name(row.a.req.key));
      out.field(model(row)).seconds(row.a.at);
      if (row.start >= 0) out.seconds(row.start).seconds(row.end);
      else out.empty().empty();
      out.seconds(row.wait);
      // A row the trace marks `fail` ran its time and failed, as in simulate.
      bool failed = row.answered && row.code == 200 && row.a.fail;
      if (row.answered) out.field(std::int64_t{failed ? 500 : row.code});
      else out.empty();
      out.field(std::int64_t{row.wait > 0 ? 1 : 0});
      out.field(!row.answered ? "unanswered" : failed ? "failed" : row.why);
      out.field(names_[row.node]).field(member_name(row.owner));
      if (with_clients) {
        if (row.a.client == policies::no_client) {
          out.empty().empty().empty().empty();
        } else {
          out.field(client_group_[row.a.client]).field(static_cast<std::int64_t>(row.a.request_no));
          out.field(std::int64_t{row.a.attempt_no}).field(std::int64_t{row.final ? 1 : 0});
        }
      }
      if (with_priority) traces::priority_field(out, row.a.req.priority);
      out.end_row();
    }
    out.close();
  }
  {
    traces::csv_out out((dir / "leases.csv").string());
    for (auto* h : {"lease", "account", "owner", "epoch", "granted_s", "released_s", "how", "units", "id",
                    "kind", "limit"})
      out.field(h);
    out.end_row();
    for (auto& l : leases_) {
      auto& row = rows_[l.row];
      out.field(l.lease).field(account(row)).field(member_name(l.owner));
      out.field(static_cast<std::int64_t>(l.epoch));
      out.seconds(l.granted).seconds(l.released).field(l.how).field(row.units);
      write_id(out, l.row);
      out.field(policies::to_string(row.a.req.what));
      if (l.limit >= 0) out.field(l.limit);
      else out.field("");
      out.end_row();
    }
    out.close();
  }
  for (auto& st : stats_) {
    t.takeovers += static_cast<std::uint64_t>(st->takeovers.load());
    t.takeovers_from_copy += static_cast<std::uint64_t>(st->takeovers_from_copy.load());
    t.replica_waits += static_cast<std::uint64_t>(st->replica_waits.load());
    t.replica_messages += static_cast<std::uint64_t>(st->replica_messages.load());
  }
  nlohmann::json overall = {{"requests", t.requests},
                            {"admitted", t.admitted},
                            {"refused_503", t.refused_503},
                            {"unavailable_s", t.unavailable_s},
                            {"longest_unavailable_s", t.longest_unavailable_s},
                            {"accounts_unavailable_at_end", t.unavailable_at_end},
                            {"unanswered", t.unanswered},
                            {"leases", t.leases},
                            {"leases_lost", t.leases_lost},
                            {"unit_seconds_over_limit", t.unit_seconds_over},
                            {"max_units_over_limit", t.max_over},
                            {"first_over_limit_s", first_over < 0 ? nlohmann::json(nullptr)
                                                                  : nlohmann::json(static_cast<double>(first_over) / 1e6)},
                            {"connection_seconds_over_cap", t.connection_seconds_over},
                            {"max_connections_over_cap", t.max_connections_over},
                            {"messages_lost", t.messages_lost},
                            {"takeovers", t.takeovers},
                            {"takeovers_from_copy", t.takeovers_from_copy},
                            {"replica_waits", t.replica_waits},
                            {"replica_messages", t.replica_messages}};
  nlohmann::json summary = {{"seed", request_.seed},
                            {"members", names_},
                            {"faults", t.faults},
                            {"replay", summary_replay()},
                            {"overall", overall},
                            {"accounts", json_accounts}};
  if (!models_.empty())
    summary["clients"] = clients_summary(client_stats, generated_, reader_->accounts(), client_group_);
  std::ofstream((dir / "summary.json").string()) << summary.dump(2) << "\n";
  std::ofstream((dir / "events.log").string()) << log_.str();
  return t;
}

}  // namespace

cluster_sim_totals run_cluster_sim(const cluster_sim_request& request) {
  cluster_run run(request);
  return run.run();
}

std::string replay_command(const cluster_sim_request& r) {
  std::string out = "usher cluster-sim --config " + r.config;
  if (!r.trace.empty()) out += " --trace " + (r.trace_name.empty() ? r.trace : r.trace_name);
  if (!r.workload.empty()) out += " --workload " + r.workload;
  for (auto& c : r.clients) out += " --client " + c;
  if (r.stop) out += " --stop " + policies::format_seconds(*r.stop) + "s";
  if (!r.faults.empty()) out += " --faults " + (r.faults_name.empty() ? r.faults : r.faults_name);
  if (r.random_faults > 0) out += " --random-faults " + std::to_string(r.random_faults);
  if (r.holders_keep_going) out += " --holders-keep-going";
  for (auto& a : r.follow) out += " --follow " + a;
  if (r.tickets) out += " --tickets";
  if (r.client_timeout > 0) out += " --client-timeout " + policies::format_seconds(r.client_timeout) + "s";
  if (r.health_check > 0) out += " --health-check " + policies::format_seconds(r.health_check) + "s";
  if (r.health_check > 0 && r.health_threshold != 1)
    out += " --health-threshold " + std::to_string(r.health_threshold);
  if (r.health_check > 0 && r.health_timeout > 0)
    out += " --health-timeout " + policies::format_seconds(r.health_timeout) + "s";
  out += " --seed " + std::to_string(r.seed) + " --out " +
         (!r.out_name.empty() ? r.out_name : r.out_dir.empty() ? "OUT" : r.out_dir);
  return out;
}

}  // namespace usher::tools
