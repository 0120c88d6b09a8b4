#include "tools/workload_file.hpp"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "policies/input_error.hpp"

namespace usher::tools {

using actors::clients::client_spec;
using actors::clients::distribution;
using policies::input_error;

using policies::usec;

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// One key = value, with where it came from.
struct setting {
  std::string key, value, where;
};

[[noreturn]] void bad(const setting& s, const std::string& expected) {
  throw input_error::at(s.where, 0, s.key, "expected " + expected + ", got " + policies::quoted(s.value));
}

usec duration_of(const setting& s) {
  usec t = 0;
  bool unit_error = false;
  if (!policies::parse_duration(s.value, t, unit_error)) bad(s, "a duration such as 10, 10s, 500ms or 2m");
  return t;
}

std::int64_t integer_of(const setting& s, std::int64_t min) {
  std::int64_t v = 0;
  auto* end = s.value.data() + s.value.size();
  auto r = std::from_chars(s.value.data(), end, v);
  if (s.value.empty() || r.ec != std::errc() || r.ptr != end || v < min)
    bad(s, "an integer >= " + std::to_string(min));
  return v;
}

double positive_of(const setting& s) {
  try {
    std::size_t used = 0;
    double d = std::stod(s.value, &used);
    if (used == s.value.size() && d > 0) return d;
  } catch (const std::exception&) {
  }
  bad(s, "a positive number");
}

// exp:MEAN | fixed:VALUE | lognormal:MEAN:CV
distribution distribution_of(const setting& s) {
  auto first = s.value.find(':');
  std::string form = s.value.substr(0, first);
  distribution d;
  auto rest = first == std::string::npos ? std::string() : s.value.substr(first + 1);
  std::string cv;
  if (form == "lognormal") {
    auto second = rest.find(':');
    if (second == std::string::npos) bad(s, "lognormal:MEAN:CV");
    cv = rest.substr(second + 1);
    rest = rest.substr(0, second);
  }
  usec mean = 0;
  bool unit_error = false;
  if (first == std::string::npos || !policies::parse_duration(rest, mean, unit_error))
    bad(s, "exp:MEAN, fixed:VALUE or lognormal:MEAN:CV with durations such as 10s");
  d.mean_s = static_cast<double>(mean) / 1e6;
  if (form == "exp")
    d.form = distribution::shape::exponential;
  else if (form == "fixed")
    d.form = distribution::shape::fixed;
  else if (form == "lognormal") {
    d.form = distribution::shape::lognormal;
    d.cv = positive_of(setting{s.key, cv, s.where});
  } else {
    bad(s, "exp:MEAN, fixed:VALUE or lognormal:MEAN:CV");
  }
  if ((d.form != distribution::shape::fixed && mean <= 0) || mean < 0) bad(s, "a positive mean");
  return d;
}

void apply(client_group& g, const setting& s) {
  auto& c = g.spec;
  const auto& k = s.key;
  if (k == "accounts") g.accounts = integer_of(s, 1);
  else if (k == "behaviour" || k == "behavior") {
    if (s.value != "sdk" && s.value != "conversations" && s.value != "batch" && s.value != "limited")
      bad(s, "sdk, conversations, batch or limited");
    c.behaviour = s.value;
  } else if (k == "model") c.model = s.value;
  else if (k == "cost") c.cost = integer_of(s, 0);
  else if (k == "duration") c.duration = distribution_of(s);
  else if (k == "start") c.start = duration_of(s);
  else if (k == "stop") c.stop = duration_of(s);
  else if (k == "max_retries") c.max_retries = static_cast<int>(integer_of(s, 0));
  else if (k == "timeout") c.timeout = s.value == "none" ? policies::never : duration_of(s);
  else if (k == "backoff_initial") c.backoff_initial = duration_of(s);
  else if (k == "backoff_max") c.backoff_max = duration_of(s);
  else if (k == "rate") c.rate = positive_of(s);
  else if (k == "conversations") c.conversations = static_cast<int>(integer_of(s, 1));
  else if (k == "think") c.think = distribution_of(s);
  else if (k == "on_reject") {
    if (s.value == "drop") c.max_retries = 0;
    else if (s.value != "retry") bad(s, "retry or drop");
  } else if (k == "turns") c.turns = integer_of(s, 1);
  else if (k == "documents") c.documents = integer_of(s, 1);
  else if (k == "parallelism") c.parallelism = static_cast<int>(integer_of(s, 1));
  else if (k == "mode") {
    if (s.value != "chunks" && s.value != "window") bad(s, "chunks or window");
    c.sliding_window = s.value == "window";
  } else if (k == "limiter") {
    if (s.value != "token_bucket" && s.value != "concurrency") bad(s, "token_bucket or concurrency");
    c.token_bucket = s.value == "token_bucket";
  } else if (k == "limiter_rate") c.limiter_rate = positive_of(s);
  else if (k == "burst") c.burst = positive_of(s);
  else if (k == "max_in_flight") c.max_in_flight = integer_of(s, 1);
  else
    throw input_error::at(s.where, 0, s.key, "unknown key (see docs/WORKLOADS.md for every key)");
}

void apply_global(workload& w, const setting& s, const std::string& base_dir) {
  if (s.key == "seed") w.seed = static_cast<std::uint64_t>(integer_of(s, 0));
  else if (s.key == "stop") w.stop = duration_of(s);
  else if (s.key == "trace") {
    std::filesystem::path p(s.value);
    w.trace = p.is_absolute() || base_dir.empty() ? s.value : (std::filesystem::path(base_dir) / p).string();
  } else
    throw input_error::at(s.where, 0, s.key,
                          "unknown key (top level: seed, stop, trace; clients go in [clients.NAME])");
}

}  // namespace

std::vector<std::string> workload::account_names(const client_group& g) const {
  if (g.accounts == 1) return {g.name};
  std::vector<std::string> names;
  int width = static_cast<int>(std::to_string(g.accounts).size());
  for (std::int64_t i = 1; i <= g.accounts; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "-%0*lld", width, static_cast<long long>(i));
    names.push_back(g.name + buf);
  }
  return names;
}

workload read_workload_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw input_error::in(path, "cannot open the workload file");
  workload w;
  w.path = path;
  std::string raw, section;
  std::size_t line = 0;
  client_group* group = nullptr;
  auto base_dir = std::filesystem::path(path).parent_path().string();
  while (std::getline(in, raw)) {
    ++line;
    auto text = trim(raw);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    auto where = path + ":" + std::to_string(line);
    if (text.front() == '[') {
      section = text.back() == ']' ? trim(text.substr(1, text.size() - 2)) : "";
      if (section.rfind("clients.", 0) != 0 || section.size() <= 8)
        throw input_error::at(where, 0, "", "expected a section [clients.NAME], got " + policies::quoted(text));
      w.groups.push_back(client_group{section.substr(8), 1, client_spec{}});
      group = &w.groups.back();
      continue;
    }
    auto eq = text.find('=');
    if (eq == std::string::npos) throw input_error::at(where, 0, "", "expected key = value, got " + policies::quoted(text));
    setting s{trim(text.substr(0, eq)), trim(text.substr(eq + 1)), where};
    if (group) apply(*group, s);
    else apply_global(w, s, base_dir);
  }
  return w;
}

void add_client_option(workload& w, const std::string& option) {
  auto colon = option.find(':');
  if (colon == std::string::npos || colon == 0)
    throw input_error::at("--client", 0, "", "expected NAME:key=value,..., got " + policies::quoted(option));
  client_group g{option.substr(0, colon), 1, client_spec{}};
  std::string rest = option.substr(colon + 1);
  std::size_t pos = 0;
  while (pos <= rest.size() && !rest.empty()) {
    auto comma = rest.find(',', pos);
    auto item = rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    auto eq = item.find('=');
    if (eq == std::string::npos)
      throw input_error::at("--client " + g.name, 0, "", "expected key=value, got " + policies::quoted(item));
    apply(g, setting{item.substr(0, eq), item.substr(eq + 1), "--client " + g.name});
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  w.groups.push_back(g);
}

std::vector<actors::generated_account> generated_accounts(
    const workload& w, const policies::plan& plan,
    const std::function<policies::id(const std::string&)>& account_id,
    const std::function<policies::id(const std::string&)>& model_id,
    std::vector<std::string>& group_of) {
  std::vector<actors::generated_account> generated;
  group_of.clear();
  for (auto& g : w.groups)
    for (auto& name : w.account_names(g)) {
      actors::generated_account a;
      a.account = account_id(name);
      a.profile = plan.profile_of(name);
      a.model = g.spec.model.empty() ? policies::no_id : model_id(g.spec.model);
      a.client = static_cast<std::uint32_t>(generated.size());
      a.spec = g.spec;
      if (a.spec.stop == policies::never) a.spec.stop = w.stop;
      a.seed = w.seed;
      generated.push_back(a);
      group_of.push_back(g.name);
    }
  return generated;
}

}  // namespace usher::tools
