#pragma once
/// "Did you mean": the one helper every unknown name goes through (commands,
/// options, presets, plan keys), so all of them suggest alike. A name is
/// suggested when it is a likely typo of what was given: at most a third of
/// its letters (at least one) inserted, deleted, changed or swapped with a
/// neighbour ("tyop" -> "typo" is one edit). Case is ignored. Plain C++, no
/// I/O; callers put the suggestion into their own message.

#include <string>
#include <string_view>
#include <vector>

namespace usher::policies {

/// The candidate nearest to `word`, or "" when none is near enough (or
/// `word` is itself a candidate). Ties go to the candidate listed first.
[[nodiscard]] std::string closest_match(std::string_view word,
                                        const std::vector<std::string>& candidates);

/// "; did you mean \"X\"?" for the closest match X, or "": the tail callers
/// append to the end of an "unknown ..." message.
[[nodiscard]] std::string did_you_mean(std::string_view word,
                                       const std::vector<std::string>& candidates);

}  // namespace usher::policies
