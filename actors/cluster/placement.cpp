#include "actors/cluster/placement.hpp"

#include <algorithm>

namespace usher::actors::cluster {

namespace {

// FNV-1a over the bytes, then the murmur3 finalizer: FNV alone mixes the
// last bytes poorly, and names often differ only there (acct-1, acct-2).
std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t fmix64(std::uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

}  // namespace

std::uint64_t rendezvous_weight(std::string_view member, std::string_view key) {
  std::uint64_t h = fnv1a(0xcbf29ce484222325ULL, member);
  h = fnv1a(h ^ 0xff, key);  // a separator: ("ab", "c") and ("a", "bc") differ
  return fmix64(h);
}

std::uint64_t group_id_of(std::string_view key) {
  // Not a member's weight: "group" is no member name's hash prefix, and a
  // separator byte no name has keeps it apart from every (member, key).
  return fmix64(fnv1a(0x84222325cbf29ce4ULL, key) ^ 0x67726f7570ULL);
}

std::vector<std::string> rank_members(std::string_view key, const std::vector<std::string>& members) {
  std::vector<std::pair<std::uint64_t, const std::string*>> scored;
  scored.reserve(members.size());
  for (auto& m : members) scored.emplace_back(rendezvous_weight(m, key), &m);
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : *a.second < *b.second;
  });
  std::vector<std::string> out;
  out.reserve(scored.size());
  for (auto& [w, m] : scored) out.push_back(*m);
  return out;
}

std::string owner_of(std::string_view key, const std::vector<std::string>& members) {
  const std::string* best = nullptr;
  std::uint64_t best_weight = 0;
  for (auto& m : members) {
    auto w = rendezvous_weight(m, key);
    if (!best || w > best_weight || (w == best_weight && m < *best)) {
      best = &m;
      best_weight = w;
    }
  }
  return best ? *best : std::string();
}

}  // namespace usher::actors::cluster
