#include "actors/cluster/sim_network.hpp"

#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "actors/messages.hpp"

namespace usher::actors::cluster {

using policies::usec;

namespace {

/// A link's own timer: message `index` has crossed.
using arrive_atom = caf::atom_constant<caf::atom("sim_arrive")>;
/// The network to a link: a partition healed; send on what it held.
using heal_atom = caf::atom_constant<caf::atom("sim_heal")>;

struct link_state {
  /// A message crossing: a request or a notice on its way from `from` to
  /// `to`, with the promise that carries it to the receiver with its sender
  /// and request id; or an answer on its way back, with the asker's promise.
  struct flight {
    caf::response_promise rp;
    caf::message msg;
    bool answer = false;
  };
  std::unordered_map<std::uint64_t, flight> in_flight;
  std::vector<std::uint64_t> held;  ///< in_flight indexes a partition holds, in the order sent
  std::uint64_t next = 0;
  /// Requests asked at the receiver, by request id: the askers' promises.
  std::unordered_map<std::uint64_t, caf::response_promise> asked;
  caf::behavior on_answer;  ///< answer_behavior()
  static inline const char* name = "usher.sim_link";
};
using link_ptr = caf::stateful_actor<link_state>*;

// Message `index` starts across (again, after a partition): a request from
// `from` to `to`, an answer the other way.
void send_on(link_ptr self, sim_network* net, std::uint32_t from, std::uint32_t to,
             std::uint64_t index) {
  auto& st = self->state;
  auto flight = st.in_flight.find(index);
  if (flight == st.in_flight.end()) return;
  auto fate = flight->second.answer ? net->fate(to, from) : net->fate(from, to);
  using kind = sim_network::fate_of::kind;
  switch (fate.what) {
    case kind::lost: st.in_flight.erase(flight); break;
    case kind::held: st.held.push_back(index); break;
    case kind::arrives:
      self->delayed_send(self, std::chrono::microseconds(fate.delay), arrive_atom::value, index);
  }
}

// Puts `msg` on the link: a request (or notice) when `answer` is false.
void cross(link_ptr self, sim_network* net, std::uint32_t from, std::uint32_t to,
           caf::response_promise rp, caf::message msg, bool answer) {
  auto& st = self->state;
  auto index = st.next++;
  st.in_flight.emplace(index, link_state::flight{std::move(rp), std::move(msg), answer});
  send_on(self, net, from, to, index);
}

// A request reached `to`: asked there on the asker's behalf, and its answer
// sent back across the network (delayed, held or lost as requests are).
void ask(link_ptr self, const caf::actor& node, caf::response_promise rp, caf::message msg) {
  auto& st = self->state;
  auto asked = self->request(node, caf::infinite, std::move(msg));
  st.asked.emplace(asked.id().request_id().integer_value(), std::move(rp));
  self->add_multiplexed_response_handler(asked.id(), st.on_answer);
}

// What answers ask(): one behavior per link, shared by every request (the
// promise is found by the answer's request id), with a handler per answer
// a member's cluster actor gives another.
caf::behavior answer_behavior(link_ptr self, sim_network* net, std::uint32_t from, std::uint32_t to) {
  auto promise = [self]() {
    auto& asked = self->state.asked;
    auto i = asked.find(self->current_mailbox_element()->mid.request_id().integer_value());
    caf::response_promise rp;
    if (i != asked.end()) {
      rp = std::move(i->second);
      asked.erase(i);
    }
    return rp;
  };
  auto back = [=](caf::message answer) {
    auto rp = promise();
    if (rp.pending()) cross(self, net, from, to, std::move(rp), std::move(answer), true);
  };
  return {[=](admit_reply& r) { back(caf::make_message(std::move(r))); },
          [=](lease_reply& r) { back(caf::make_message(std::move(r))); },
          [=](concurrency_snapshot& r) { back(caf::make_message(std::move(r))); },
          [=](live_metrics& r) { back(caf::make_message(std::move(r))); },
          [=](caf::error& e) {
            // An answer of a type not listed above: a member answers
            // something new, which this network must learn to carry (or
            // every such answer would turn into a silent 503).
            if (e == caf::sec::unexpected_response) {
              std::fprintf(stderr, "usher.sim_link: an answer of a type answer_behavior does not carry\n");
              std::abort();
            }
            // The receiver died first: its links go down with it and the
            // asker hears that; this only ends the request.
            auto rp = promise();
            if (rp.pending()) rp.deliver(std::move(e));
          }};
}

caf::behavior link_behavior(link_ptr self, sim_network* net, std::uint32_t from, std::uint32_t to) {
  self->state.on_answer = answer_behavior(self, net, from, to);
  self->set_default_handler(
      [=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        // Taking the promise marks a request as answered here: its answer
        // comes back through this link (ask()).
        cross(self, net, from, to, self->make_response_promise(), x.move_content_to_message(), false);
        return caf::delegated<caf::message>{};
      });
  return {
      [=](heal_atom) {
        auto held = std::move(self->state.held);
        self->state.held.clear();
        for (auto index : held) send_on(self, net, from, to, index);
      },
      [=](arrive_atom, std::uint64_t index) {
        auto& st = self->state;
        auto i = st.in_flight.find(index);
        if (i == st.in_flight.end()) return;
        auto f = std::move(i->second);
        st.in_flight.erase(i);
        if (f.answer) {
          f.rp.deliver(std::move(f.msg));
          return;
        }
        auto& node = net->node(to);
        if (!node) return;
        if (f.rp.async()) f.rp.delegate(node, std::move(f.msg));  // a notice: nothing comes back
        else ask(self, node, std::move(f.rp), std::move(f.msg));
      },
  };
}

}  // namespace

sim_network::sim_network(caf::actor_system& sys, std::size_t members, std::uint64_t seed)
    : sys_(sys),
      nodes_(members),
      links_(members, std::vector<caf::actor>(members)),
      rng_(seed) {}

sim_network::~sim_network() {
  for (std::uint32_t m = 0; m < nodes_.size(); ++m) crashed(m);
}

void sim_network::started(std::uint32_t m, caf::actor node) { nodes_[m] = std::move(node); }

void sim_network::crashed(std::uint32_t m) {
  nodes_[m] = nullptr;
  for (std::uint32_t o = 0; o < nodes_.size(); ++o)
    for (auto* l : {&links_[m][o], &links_[o][m]})
      if (*l) {
        caf::anon_send_exit(*l, caf::exit_reason::kill);
        *l = nullptr;
      }
}

caf::actor sim_network::link(std::uint32_t from, std::uint32_t to) {
  if (!nodes_[to] || !nodes_[from]) return nullptr;
  auto& l = links_[from][to];
  if (!l) l = sys_.spawn(link_behavior, this, from, to);
  return l;
}

void sim_network::set_delay(usec min, usec max) {
  delay_min_ = min;
  delay_max_ = std::max(min, max);
}

void sim_network::set_drop(double probability) { drop_ = probability; }

void sim_network::partition(std::size_t key, std::vector<int> side) {
  partitions_[key] = std::move(side);
}

void sim_network::heal(std::size_t key) {
  partitions_.erase(key);
  for (auto& row : links_)
    for (auto& l : row)
      if (l) caf::anon_send(l, heal_atom::value);
}

sim_network::fate_of sim_network::fate(std::uint32_t from, std::uint32_t to) {
  using kind = fate_of::kind;
  for (auto& [key, side] : partitions_)
    if (side[from] != side[to]) return {kind::held, 0};
  // The same two draws per message whatever the settings: a fault added to
  // a schedule does not shift every later draw.
  double lose = policies::uniform01(rng_);
  double when = policies::uniform01(rng_);
  if (lose < drop_) {
    ++lost_;
    return {kind::lost, 0};
  }
  return {kind::arrives,
          delay_min_ + static_cast<usec>(when * static_cast<double>(delay_max_ - delay_min_))};
}

}  // namespace usher::actors::cluster
