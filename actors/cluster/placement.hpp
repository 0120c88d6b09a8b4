#pragma once
/// Who owns an account in a cluster: rendezvous (highest random weight)
/// hashing. Every node scores every (member, key) pair with the same hash
/// and the member with the highest score owns the key; the next highest is
/// its backup (replicas = 1). Pure and deterministic: any node computes the
/// same owners from the same member list, with no coordination and no ring
/// to keep. When a member leaves, only the keys it owned move, each to its
/// own backup; when one joins, only the keys it now scores highest on move
/// to it (docs/CLUSTER.md).
///
/// The key is the account's name, or for accounts that share a gate (a
/// provider-wide model_capacity: every account of that plan) the name of
/// the group, so a group has one owner and its gate stays one local call
/// (docs/ARCHITECTURE.md, "Why pools and queues are inside the account
/// actor").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace usher::actors::cluster {

/// The weight of `member` for `key`: a 64-bit hash of both, well mixed, the
/// same on every platform.
std::uint64_t rendezvous_weight(std::string_view member, std::string_view key);

/// The members in the order they are chosen for `key`: owner first, then its
/// backup, and so on. Ties (never seen in practice) go by name. Empty when
/// `members` is.
std::vector<std::string> rank_members(std::string_view key, const std::vector<std::string>& members);

/// A group's id on the wire between members (cluster_view.hpp): a 64-bit
/// hash of its placement key, the same on every platform.
std::uint64_t group_id_of(std::string_view key);

/// The owner of `key` among `members`; "" when there are none.
std::string owner_of(std::string_view key, const std::vector<std::string>& members);

}  // namespace usher::actors::cluster
