#include "actors/cluster/cluster_view.hpp"

#include <algorithm>
#include <stdexcept>

#include "actors/cluster/placement.hpp"

namespace usher::actors::cluster {

using policies::usec;

const char* to_string(member_state s) {
  switch (s) {
    case member_state::up: return "up";
    case member_state::joining: return "joining";
    case member_state::down: return "down";
  }
  return "down";
}

namespace {

bool lists(const std::vector<std::uint32_t>& v, std::uint32_t g) {
  return std::find(v.begin(), v.end(), g) != v.end();
}

// The same for a peer's latest beat, whose lists receive() keeps sorted (by
// group index): a member decides each group against every peer's lists at
// every beat, which with linear searches costs groups squared (1,000
// accounts: a million steps).
bool listed(const std::vector<group_id>& sorted, std::uint32_t g) {
  return std::binary_search(sorted.begin(), sorted.end(), group_id{g});
}

}  // namespace

cluster_view::cluster_view(settings s, std::uint64_t incarnation, usec now)
    : names_(std::move(s.names)),
      self_(s.self),
      heartbeat_(s.heartbeat),
      failure_timeout_(s.failure_timeout),
      groups_(std::move(s.groups)),
      digest_(std::move(s.digest)),
      incarnation_(incarnation),
      started_(now),
      gens_(names_.size(), 0),
      peers_(names_.size()),
      held_(groups_.size(), false),
      claiming_(groups_.size(), false),
      promised_(groups_.size()),
      group_(groups_.size()),
      taken_(groups_.size() * names_.size()) {
  home_.reserve(groups_.size());
  weights_.reserve(groups_.size() * names_.size());
  for (std::uint32_t g = 0; g < groups_.size(); ++g) place(g);
  if (names_.size() == 1) valid_until_ = policies::never;  // a cluster of one is its own majority
}

void cluster_view::place(std::uint32_t g) {
  const auto& key = groups_[g];
  auto home = owner_of(key, names_);
  home_.push_back(static_cast<std::uint32_t>(std::find(names_.begin(), names_.end(), home) - names_.begin()));
  for (auto& m : names_) weights_.push_back(rendezvous_weight(m, key));
  auto id = group_id_of(key);
  // Two keys of one hash would be one group on the wire: a 2^-64 chance
  // per pair, refused rather than mistaken.
  if (!index_of_.emplace(id, g).second)
    throw std::invalid_argument("cluster: the account groups " + groups_[index_of_[id]] + " and " + key +
                                " have the same 64-bit id; rename one");
  ids_.push_back(id);
}

std::uint32_t cluster_view::add_group(const std::string& key) {
  if (auto i = index_of_.find(group_id_of(key)); i != index_of_.end()) return i->second;
  auto g = static_cast<std::uint32_t>(groups_.size());
  groups_.push_back(key);
  // taken_ is [group * members + sender]: a new group's rows go at the end.
  held_.push_back(false);
  claiming_.push_back(false);
  promised_.emplace_back();
  group_.emplace_back();
  taken_.resize(groups_.size() * names_.size());
  place(g);
  if (auto u = unknown_held_.find(ids_[g]); u != unknown_held_.end()) {
    auto& gi = group_[g];
    gi.ever_listed = true;
    gi.last_holder = u->second.first;
    gi.last_holder_gen = u->second.second;
    unknown_held_.erase(u);
  }
  return g;
}

std::optional<std::uint32_t> cluster_view::group_of(group_id id) const {
  auto i = index_of_.find(id);
  if (i == index_of_.end()) return std::nullopt;
  return i->second;
}

beat cluster_view::next_beat(usec now) {
  beat b;
  b.from = self_;
  b.incarnation = incarnation_;
  b.seq = ++seq_;
  sent_.emplace_back(b.seq, now);
  // Answers older than a failure_timeout keep nothing valid: forget them.
  while (!sent_.empty() && sent_.front().second < now - failure_timeout_) sent_.pop_front();
  b.gens = gens_;
  b.over.resize(names_.size());
  for (std::uint32_t m = 0; m < names_.size(); ++m) b.over[m] = over(m, now);
  b.acks.assign(names_.size(), 0);
  b.heard.assign(names_.size(), 0);
  for (std::uint32_t m = 0; m < names_.size(); ++m) {
    if (m == self_) {
      b.heard[m] = 1;
      continue;
    }
    if (counted_up(m, now)) b.acks[m] = peers_[m].last_seq;
    b.heard[m] = peers_[m].ever_heard ? 1 : 0;
  }
  for (std::uint32_t g = 0; g < groups_.size(); ++g) {
    auto id = ids_[g];
    if (held_[g] || group_[g].handing_to) {
      b.held.push_back(id);
      group_[g].unlisted = false;
    }
    if (group_[g].handing_to) b.handing.push_back(group_note{id, *group_[g].handing_to, 0});
    if (claiming_[g]) b.claims.push_back(id);
    if (promised_[g]) b.promises.push_back(group_note{id, *promised_[g], gens_[*promised_[g]]});
  }
  while (!handed_.empty() && handed_.front().second <= now) handed_.pop_front();
  for (auto& h : handed_)
    b.handed.push_back(group_note{ids_[h.first.group], h.first.member, h.first.seq, h.first.gen});
  while (!taken_notes_.empty() && taken_notes_.front().second >= 0 && taken_notes_.front().second <= now)
    taken_notes_.pop_front();
  for (auto& [t, until] : taken_notes_) {
    if (until < 0) until = now + failure_timeout_;
    b.taken.push_back(taken_note{ids_[t.group], t.from, t.id});
  }
  // Handoffs that arrived before this node had listed the group: listed now,
  // they end (receive()).
  for (std::uint32_t g = 0; g < groups_.size(); ++g) {
    auto& gi = group_[g];
    if (!gi.arrived || !gi.handing_to) continue;
    handed_.emplace_back(group_note{g, *gi.handing_to, gi.arrived_seq, gi.handoff_to_gen},
                         now + failure_timeout_);
    gi.handing_to.reset();
    gi.arrived = false;
  }
  for (auto g : lost_) b.lost.push_back(ids_[g]);
  b.digest = digest_;
  b.next_digest = next_digest_;
  b.leaving = leaving_;
  leave_said_ = leaving_;
  return b;
}

bool cluster_view::receive(const beat& wire, usec now) {
  const auto n = names_.size();
  if (wire.from >= n || wire.from == self_ || wire.gens.size() != n || wire.acks.size() != n ||
      wire.heard.size() != n || wire.over.size() != n)
    return false;
  auto& p = peers_[wire.from];
  p.last_any = now;
  if (!limits_match(wire)) {
    p.wrong_digest = true;
    return false;
  }
  p.wrong_digest = false;
  for (auto* notes : {&wire.promises, &wire.handed, &wire.handing})
    for (auto& x : *notes)
      if (x.member >= n) return false;
  for (auto& x : wire.taken)
    if (x.from >= n) return false;
  // From here on its groups are this node's indices; groups not known here
  // are left out (a reload that added them is applied there and not yet
  // here), save who holds them.
  beat b = wire;
  std::vector<group_id> unknown;
  auto local = [&](std::vector<group_id>& ids, bool held) {
    std::size_t kept = 0;
    for (auto id : ids) {
      auto i = index_of_.find(id);
      if (i != index_of_.end()) ids[kept++] = i->second;
      else if (held) unknown.push_back(id);
    }
    ids.resize(kept);
  };
  auto local_notes = [&](auto& notes) {  // group_note or taken_note
    notes.erase(std::remove_if(notes.begin(), notes.end(),
                               [&](auto& x) {
                                 auto i = index_of_.find(x.group);
                                 if (i == index_of_.end()) return true;
                                 x.group = i->second;
                                 return false;
                               }),
                notes.end());
  };
  local(b.held, true);
  local(b.lost, false);
  local(b.claims, false);
  local_notes(b.promises);
  local_notes(b.handed);
  local_notes(b.handing);
  local_notes(b.taken);

  // A new process where the member was: what it held is gone with the old
  // one, so it is voted out at once.
  if (p.ever_heard && b.incarnation != p.incarnation)
    gens_[b.from] = std::max(gens_[b.from], p.self_gen + 1);
  // A member voted out as never joined (this process never heard it) that
  // turns out to have run at that generation or a later one all along (it
  // was cut off from this process since it started): it may hold groups
  // that members here started as nobody's meanwhile, so it is out as well.
  // (Found by usher cluster-sim: its "never joined" generation 1 was the
  // generation it had, so it came back valid and granted on old state.)
  if (!p.ever_heard && p.raised_unheard && b.gens[b.from] >= gens_[b.from])
    gens_[b.from] = b.gens[b.from] + 1;
  p.incarnation = b.incarnation;
  p.ever_heard = true;

  for (std::uint32_t m = 0; m < n; ++m) {
    if (m != self_) {
      gens_[m] = std::max(gens_[m], b.gens[m]);
      continue;
    }
    if (b.gens[m] > gens_[m]) {
      // Voted out: nothing answered so far keeps this node valid.
      gens_[m] = b.gens[m];
      for (auto& q : peers_) q.vouched = -1;
      valid_until_ = 0;
    }
  }
  p.self_gen = b.gens[b.from];
  if (p.self_gen == gens_[b.from]) {
    p.last_heard = now;
    p.last_seq = b.seq;
    p.acked_at = now;
    p.acked_gen = p.self_gen;
  }
  // Its answer to this node, if it counts this node up at its generation.
  if (b.acks[self_] != 0 && b.gens[self_] == gens_[self_]) {
    for (auto& [seq, at] : sent_)
      if (seq == b.acks[self_]) {
        p.vouched = std::max(p.vouched, at);
        break;
      }
  }
  // A sender behind its own generation (voted out, and this is a beat of
  // before it knew: one held up by a pause or a partition) says nothing of
  // who holds a group now.
  const bool current = b.gens[b.from] == gens_[b.from];
  if (current)
    for (auto id : unknown) unknown_held_[id] = {b.from, b.gens[b.from]};
  // This node's handoff of g arrived at the beat's sender (its receiver):
  // ends it (below, for a listing of g or a note that the receiver took
  // it). False: no such handoff.
  auto arrived = [&](std::uint32_t g) {
    auto& gi = group_[g];
    if (gi.handing_to != b.from || b.gens[b.from] != gi.handoff_to_gen) return false;
    if (gi.unlisted) {
      // This node took the group by a handoff and passed it on before any
      // beat of its own listed it: its sender, which ends its handoff when
      // it sees this node list the group, would never see that, and would
      // list the group as its own for good, so that nobody took it over
      // once its new holder was lost (found by usher cluster-sim: a handed
      // to e, e to b at once, b was voted out, and the account stayed
      // without an owner, every member up). It ends after this node's next
      // beat, which lists it.
      gi.arrived = true;
      gi.arrived_seq = b.seq;
    } else {
      gi.handing_to.reset();
      // Said for a while, so that nobody takes the group meanwhile from
      // beats of the receiver older than this one.
      handed_.emplace_back(group_note{g, b.from, b.seq, gi.handoff_to_gen}, now + failure_timeout_);
    }
    return true;
  };
  // The beat's sender's note that it took a handoff of this node's: it may
  // have handed the group on at once, listing it in a beat or two only,
  // which may all be lost. (Found by usher cluster-sim, seed 22597 of the property
  // test: e handed an account to b, which handed it to its owner a at once;
  // b's one beat listing it was lost on its way to e, which listed the
  // account as handed to b for good, so that nobody took it over when a was
  // lost, every other member up.) Before the notes of handoffs the beat's
  // sender finished: the group's holder is that member, or whom it handed
  // it to.
  for (auto& t : b.taken) {
    auto g = static_cast<std::uint32_t>(t.group);
    auto& gi = group_[g];
    if (t.from != self_ || t.id.incarnation != incarnation_ || t.id.seq != gi.handoff.seq) continue;
    if (arrived(g) && current) {
      gi.ever_listed = true;
      gi.last_holder = b.from;
      gi.last_holder_gen = b.gens[b.from];
    }
  }
  // A group the sender handed on lately: where this node last knew it to be
  // the sender's, its holder is now the receiver. (A member that never
  // heard the receiver list it, cut off meanwhile, kept the sender as its
  // last holder, waited for the sender, up for good, to be voted out, and
  // so never took the group over once the receiver was lost: the account
  // had no owner, every member up. Found by usher cluster-sim, seed 10094
  // of the property test.) Before the listings below: a sender that holds
  // the group again lists it, and stays its holder.
  if (current)
    for (auto& h : b.handed) {
      auto& gi = group_[h.group];
      if (h.member == self_ || (gi.ever_listed && gi.last_holder != b.from)) continue;
      gi.ever_listed = true;
      gi.last_holder = h.member;
      gi.last_holder_gen = h.gen;
    }
  for (auto held_g : b.held) {
    auto g = static_cast<std::uint32_t>(held_g);
    auto& gi = group_[g];
    arrived(g);
    // A group the sender hands to this node: the handoff says whether this
    // node takes it (accept_handoff), not the listing. It is not the
    // sender's any more, and this node's own resign of it still stands: a
    // handoff sent just before this node was voted out is refused here, and
    // the group must still be taken over (found by usher cluster-sim: the
    // sender then named this node its last holder, this node the sender,
    // and neither started it again, both members up).
    bool to_me = std::any_of(b.handing.begin(), b.handing.end(),
                             [&](const group_note& h) { return h.group == g && h.member == self_; });
    if (to_me || !current) continue;
    gi.ever_listed = true;
    gi.last_holder = b.from;
    gi.last_holder_gen = b.gens[b.from];
    lost_.erase(std::remove(lost_.begin(), lost_.end(), g), lost_.end());
  }
  // A receiver listing a group handed to it as lost does not end the
  // handoff: the listing may predate the handoff (the receiver gave the
  // group up before, when voted out), and then the handoff was neither taken
  // nor refused yet; ending it here left the group with nobody, both members
  // up (found by usher cluster-sim, with the handoff lost on its way). A
  // receiver that took the group and gave it up since was voted out, which
  // ends the handoff in decide_group().
  p.latest = std::move(b);
  for (auto* v : {&p.latest->held, &p.latest->lost, &p.latest->claims}) std::sort(v->begin(), v->end());
  update_validity();
  return true;
}

bool cluster_view::counted_up(std::uint32_t m, usec now) const {
  if (m == self_) return false;
  auto& p = peers_[m];
  return p.ever_heard && !p.wrong_digest && p.last_seq != 0 && p.self_gen == gens_[m] &&
         now - p.last_heard < failure_timeout_;
}

bool cluster_view::up(std::uint32_t m) const {
  if (m == self_) return valid_until_ > 0;
  auto& p = peers_[m];
  return p.ever_heard && !p.wrong_digest && p.last_seq != 0 && p.self_gen == gens_[m];
}

void cluster_view::suspect_silent(usec now) {
  // Only a node that reaches a majority votes: one cut off (or just resumed
  // after a pause: SIGSTOP) cannot tell its peers' silence from its own, and
  // would vote out every member that is fine.
  if (valid_until_ <= now) return;
  for (std::uint32_t m = 0; m < names_.size(); ++m) {
    if (m == self_) continue;
    auto& p = peers_[m];
    if (counted_up(m, now) || p.wrong_digest) continue;
    if (p.ever_heard && p.last_seq != 0 && p.self_gen == gens_[m]) {
      // Up at its generation, silent for failure_timeout: vote it out.
      ++gens_[m];
      p.last_seq = 0;
    } else if (!p.ever_heard && gens_[m] == 0 && now - started_ >= failure_timeout_) {
      gens_[m] = 1;  // never joined
      p.raised_unheard = true;
    }
  }
}

void cluster_view::update_validity() {
  if (names_.size() == 1) return;
  std::vector<usec> v;
  for (auto& p : peers_)
    if (p.vouched >= 0) v.push_back(p.vouched);
  std::size_t k = majority() - 1;
  if (v.size() < k) {
    valid_until_ = 0;
    return;
  }
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k - 1), v.end(),
                   std::greater<usec>());
  valid_until_ = std::max<usec>(1, v[k - 1] + failure_timeout_ - heartbeat_);
}

std::uint64_t cluster_view::over(std::uint32_t m, usec now) const {
  if (m == self_) return gens_[m];
  auto& p = peers_[m];
  if (p.acked_at < 0 || now - p.acked_at >= validity()) return gens_[m];
  return std::min(gens_[m], p.acked_gen);  // an answer of ours may still keep that one valid
}

bool cluster_view::decided_out(std::uint32_t m, std::uint64_t gen, usec now) const {
  std::size_t votes = over(m, now) > gen ? 1 : 0;
  for (std::uint32_t q = 0; q < names_.size(); ++q)
    if (q != self_ && peers_[q].latest && peers_[q].latest->over[m] > gen) ++votes;
  return votes >= majority();
}

std::optional<std::uint32_t> cluster_view::owner(std::uint32_t g) const {
  std::optional<std::uint32_t> best;
  std::uint64_t best_weight = 0;
  std::size_t members = 0;
  for (std::uint32_t m = 0; m < names_.size(); ++m) {
    if (m != self_ && !up(m)) continue;
    ++members;  // a member that leaves still counts for the majority, but owns nothing new
    if (m == self_ ? leaving_ : peers_[m].latest && peers_[m].latest->leaving) continue;
    auto w = weights_[g * names_.size() + m];
    if (!best || w > best_weight || (w == best_weight && names_[m] < names_[*best])) {
      best = m;
      best_weight = w;
    }
  }
  if (members < majority()) return std::nullopt;
  return best;
}

std::optional<std::uint32_t> cluster_view::forward_to(std::uint32_t g) const {
  auto want = owner(g);
  if (!want || (*want != self_ && !peers_[*want].latest)) return want;
  const auto& wants = *want == self_ ? digest_ : peers_[*want].latest->digest;
  // Only to a holder that keeps the group: forwarding to a listed holder in
  // general sent requests to a member that had just handed the group on,
  // for up to a heartbeat after every handoff. (Found by usher cluster-sim:
  // members that had read new limits counted up one restarted with them,
  // and forwarded its accounts to it for good, 503 not_owner, while a member
  // of the old limits held them.)
  for (std::uint32_t q = 0; q < names_.size(); ++q) {
    if (q == self_ || q == *want || !up(q) || !peers_[q].latest) continue;
    auto& b = *peers_[q].latest;
    if (b.digest == wants || !listed(b.held, g)) continue;
    auto handing = std::any_of(b.handing.begin(), b.handing.end(),
                               [&](const group_note& h) { return h.group == group_id{g}; });
    if (!handing) return q;
  }
  return want;
}

member_state cluster_view::state_of(std::uint32_t m, usec now) const {
  if (m == self_) return valid_until_ > now ? member_state::up : member_state::joining;
  if (counted_up(m, now)) return member_state::up;
  auto& p = peers_[m];
  return p.last_any >= 0 && now - p.last_any < failure_timeout_ ? member_state::joining
                                                                 : member_state::down;
}

void cluster_view::resign_all(std::vector<action>& out) {
  action a{action::kind::resign, 0, 0, {}, {}};
  for (std::uint32_t g = 0; g < groups_.size(); ++g) {
    if (!held_[g] && !group_[g].handing_to) continue;
    if (held_[g]) {
      a.groups.push_back(g);
      held_[g] = false;
      if (!lists(lost_, g)) lost_.push_back(g);
    }
  }
  resigned_gen_ = gens_[self_];
  out.push_back(std::move(a));
}

bool cluster_view::limits_match(const beat& b) const {
  return b.digest == digest_ || (!next_digest_.empty() && b.digest == next_digest_) ||
         (!b.next_digest.empty() && b.next_digest == digest_);
}

void cluster_view::propose_limits(std::string digest) {
  if (digest == digest_) digest.clear();
  next_digest_ = std::move(digest);
}

std::vector<std::uint32_t> cluster_view::limits_waiting_for(usec now) const {
  std::vector<std::uint32_t> out;
  if (next_digest_.empty()) return out;
  for (std::uint32_t m = 0; m < names_.size(); ++m) {
    if (!counted_up(m, now)) continue;
    auto& b = *peers_[m].latest;
    if (b.digest != next_digest_ && b.next_digest != next_digest_) out.push_back(m);
  }
  return out;
}

void cluster_view::switch_limits(usec now, std::vector<action>& out) {
  if (next_digest_.empty() || valid_until_ <= now || !limits_waiting_for(now).empty()) return;
  digest_ = std::move(next_digest_);
  next_digest_.clear();
  // A member that matched only through the old digest no longer does; it
  // is counted down at its next beat (receive() checks every beat).
  out.push_back(action{action::kind::switch_limits, 0, 0, {}, {}});
}

void cluster_view::decide(usec now, std::vector<action>& out) {
  update_validity();
  suspect_silent(now);
  if (gens_[self_] > resigned_gen_) resign_all(out);
  if (valid_until_ <= now) {  // no majority: change nothing, claim nothing
    std::fill(claiming_.begin(), claiming_.end(), false);
    return;
  }
  switch_limits(now, out);
  for (std::uint32_t g = 0; g < groups_.size(); ++g) decide_group(g, now, out);
}

// Whether `g` may be started here, and how (fresh or recovering): this
// node is its owner, nobody else may hold it, and its last holder, if any,
// can grant no more. nullopt: not (yet).
bool cluster_view::may_start(std::uint32_t g, usec now, action::kind& how) const {
  using kind = action::kind;
  auto& gi = group_[g];
  if (!nobody_else_holds(g, now)) return false;
  bool lost_somewhere = lists(lost_, g);
  for (std::uint32_t q = 0; q < names_.size() && !lost_somewhere; ++q)
    if (q != self_ && peers_[q].latest && up(q) && listed(peers_[q].latest->lost, g))
      lost_somewhere = true;
  // Who could hold it: its last known holder, or, if no one was ever seen
  // holding it, its home. (A copy of it here, replicas = 1, says who held it
  // even when no beat of the holder's that said so arrived.)
  std::uint32_t h = gi.ever_listed ? gi.last_holder : home_[g];
  std::uint64_t hgen = gi.ever_listed ? gi.last_holder_gen
                                      : (peers_[h].latest ? peers_[h].self_gen : 0);
  if (lost_somewhere) {
    how = takeover_kind(g, h, hgen);
    return true;
  }
  if (h == self_) {
    if (gi.ever_listed) return false;  // it moved on from here: wait to hear where
    // Its home: fresh in a new cluster; after a restart, what the process
    // before this one held is unknown: recovering.
    how = gens_[self_] == 0 ? kind::activate_fresh : kind::activate_recovering;
    return true;
  }
  if (!decided_out(h, hgen, now)) return false;
  // Every member up must refuse a late handoff from the old holder.
  for (std::uint32_t q = 0; q < names_.size(); ++q)
    if (q != self_ && up(q) && peers_[q].latest && peers_[q].latest->gens[h] <= hgen)
      return false;
  // A holder no one ever heard never had a majority, so never granted.
  if (!gi.ever_listed) {
    std::size_t never_heard = peers_[h].ever_heard ? 0 : 1;
    for (std::uint32_t q = 0; q < names_.size(); ++q)
      if (q != self_ && q != h && peers_[q].latest && peers_[q].latest->heard[h] == 0)
        ++never_heard;
    if (never_heard >= names_.size() - majority() + 1) {
      how = kind::activate_fresh;
      return true;
    }
  }
  how = takeover_kind(g, h, hgen);
  return true;
}

cluster_view::action::kind cluster_view::takeover_kind(std::uint32_t g, std::uint32_t h,
                                                       std::uint64_t hgen) const {
  return has_replica(g, h, hgen) ? action::kind::activate_replicated : action::kind::activate_recovering;
}

std::optional<std::uint32_t> cluster_view::backup_for(std::uint32_t g, usec now) const {
  std::optional<std::uint32_t> best;
  std::uint64_t best_weight = 0;
  for (std::uint32_t m = 0; m < names_.size(); ++m) {
    if (m == self_ || !counted_up(m, now) || (peers_[m].latest && peers_[m].latest->leaving)) continue;
    auto w = weights_[g * names_.size() + m];
    if (!best || w > best_weight || (w == best_weight && names_[m] < names_[*best])) {
      best = m;
      best_weight = w;
    }
  }
  return best;
}

void cluster_view::replica_from(std::uint32_t g, std::uint32_t from, std::uint64_t from_gen) {
  if (g >= groups_.size()) return;
  auto& gi = group_[g];
  gi.replica = true;
  gi.replica_from = from;
  gi.replica_from_gen = from_gen;
  gi.replica_own_gen = gens_[self_];
}

void cluster_view::replica_dropped(std::uint32_t g) {
  if (g < groups_.size()) group_[g].replica = false;
}

bool cluster_view::has_replica(std::uint32_t g, std::uint32_t from, std::uint64_t from_gen) const {
  auto& gi = group_[g];
  return gi.replica && gi.replica_from == from && gi.replica_from_gen == from_gen &&
         gi.replica_own_gen == gens_[self_];
}

bool cluster_view::nobody_else_holds(std::uint32_t g, usec now) const {
  if (held_[g] || group_[g].handing_to) return false;
  for (std::uint32_t q = 0; q < names_.size(); ++q) {
    if (q == self_ || !peers_[q].latest) continue;
    auto& b = *peers_[q].latest;
    // It lists it (and is not out): it hands it over, or comes back.
    if (listed(b.held, g) && !decided_out(q, b.gens[q], now)) return false;
    // It handed it to a member whose beats since then have not reached here.
    for (auto& h : b.handed)
      if (h.group == g && h.member != self_ && h.member < names_.size() &&
          (!peers_[h.member].latest || peers_[h.member].latest->seq < h.seq) &&
          !decided_out(h.member, peers_[h.member].self_gen, now))
        return false;
  }
  return true;
}

void cluster_view::decide_group(std::uint32_t g, usec now, std::vector<action>& out) {
  auto& gi = group_[g];
  if (gi.handing_to) {
    claiming_[g] = false;
    auto q = *gi.handing_to;
    if (gens_[q] != gi.handoff_to_gen || gens_[self_] != gi.handoff_from_gen) {
      // The receiver's generation moved on (it restarted, or was voted out:
      // the handoff was meant for the one before, gone with what it took or
      // never got), or this node's did (voted out meanwhile): the receiver
      // refuses it. Given up: lost here, so that its owner takes it over,
      // recovering, as from a failed member. (Waiting for the receiver to
      // list it as lost does not end: this node's own beats, listing the
      // group while it hands it off, clear that there. Counting the receiver
      // as its last holder, as this did for a receiver voted out, did not end
      // either once that receiver came back as the group's owner: it counts
      // this node as the last holder. Found by usher cluster-sim.)
      gi.handing_to.reset();
      if (!lists(lost_, g)) lost_.push_back(g);
    }
    return;
  }
  auto want = owner(g);
  if (held_[g]) {
    claiming_[g] = false;
    // A member that leaves says so in a beat before its first handoff: a
    // receiver that did not know would hand the group straight back.
    if (leaving_ && !leave_said_) return;
    if (want && *want != self_) {
      // Not to a member that applies other limits than this node (one has
      // read the other's and switches within a heartbeat or two): the
      // group's accounts would go back to the older limits for that while.
      // (Found by usher cluster-sim: a member back from a partition, where
      // it read a reload the others had applied without it, took its groups
      // back under the old limits, and dropped leases they did not fit.)
      if (auto& rb = peers_[*want].latest; rb && rb->digest != digest_) return;
      held_[g] = false;
      gi.handing_to = *want;
      gi.arrived = false;
      gi.handoff_sent = now;
      gi.handoff_to_gen = gens_[*want];
      gi.handoff_from_gen = gens_[self_];
      gi.handoff = handoff_id{incarnation_, ++handoffs_};
      out.push_back(action{action::kind::hand_off, g, *want, {}, gi.handoff, gi.handoff_to_gen});
    }
    return;
  }
  // A promise given to a member for g lasts while it claims g (or holds it,
  // until its beat saying so is the one here).
  if (auto w = promised_[g]) {
    auto& b = peers_[*w].latest;
    if (!up(*w) || !b || !listed(b->claims, g)) promised_[g].reset();
  }
  auto how = action::kind::activate_fresh;
  claiming_[g] = want && *want == self_ && !promised_[g] && may_start(g, now, how);
  if (claiming_[g]) {
    // Started only with a majority's promises: two members that both think
    // they own g (their views differ) cannot both get one.
    std::size_t promises = 1;
    for (std::uint32_t q = 0; q < names_.size(); ++q)
      if (q != self_ && up(q) && peers_[q].latest)
        for (auto& p : peers_[q].latest->promises)
          if (p.group == g && p.member == self_ && p.seq == gens_[self_]) ++promises;
    if (promises < majority()) return;
    claiming_[g] = false;
    held_[g] = true;
    gi.ever_listed = true;
    gi.last_holder = self_;
    gi.last_holder_gen = gens_[self_];
    lost_.erase(std::remove(lost_.begin(), lost_.end(), g), lost_.end());
    if (how != action::kind::activate_fresh) ++takeovers_;
    gi.replica = false;  // used, or of no use once this node holds the group
    out.push_back(action{how, g, 0, {}, {}});
    return;
  }
  // Promise g to a member that claims it, if nobody else may hold it.
  if (promised_[g] || !nobody_else_holds(g, now)) return;
  for (std::uint32_t q = 0; q < names_.size(); ++q)
    if (q != self_ && up(q) && peers_[q].latest && listed(peers_[q].latest->claims, g)) {
      promised_[g] = q;
      break;
    }
}

std::size_t cluster_view::groups_in_hand() const {
  std::size_t n = 0;
  for (std::uint32_t g = 0; g < groups_.size(); ++g) n += held_[g] || group_[g].handing_to ? 1 : 0;
  return n;
}

void cluster_view::handoffs_due(usec now, std::vector<std::uint32_t>& out) {
  for (std::uint32_t g = 0; g < groups_.size(); ++g) {
    auto& gi = group_[g];
    if (!gi.handing_to || now - gi.handoff_sent < failure_timeout_ / 2) continue;
    gi.handoff_sent = now;
    out.push_back(g);
  }
}

void cluster_view::handoff_failed(std::uint32_t g) {
  if (g >= groups_.size() || !group_[g].handing_to) return;
  group_[g].handing_to.reset();
  if (!lists(lost_, g)) lost_.push_back(g);
}

cluster_view::handoff_answer cluster_view::accept_handoff(std::uint32_t g, std::uint32_t from,
                                                          std::uint64_t from_gen, std::uint64_t to_gen,
                                                          handoff_id id) {
  if (g >= groups_.size() || from >= names_.size() || from == self_) return handoff_answer::refused;
  auto& last = taken_[g * names_.size() + from];
  if (held_[g] || (id.incarnation == last.incarnation && id.seq <= last.seq))
    return handoff_answer::again;  // held here already; a copy of one taken, or older
  if (peers_[from].wrong_digest || gens_[from] != from_gen || to_gen != gens_[self_]) {
    if (!lists(lost_, g)) lost_.push_back(g);
    return handoff_answer::refused;
  }
  last = id;
  taken_notes_.emplace_back(taken_note{g, from, id}, -1);
  held_[g] = true;
  claiming_[g] = false;
  auto& gi = group_[g];
  gi.handing_to.reset();
  gi.arrived = false;
  gi.unlisted = true;  // its sender waits to see this node list it
  gi.ever_listed = true;
  gi.last_holder = self_;
  gi.last_holder_gen = gens_[self_];
  gi.replica = false;
  lost_.erase(std::remove(lost_.begin(), lost_.end(), g), lost_.end());
  return handoff_answer::taken;
}

}  // namespace usher::actors::cluster
