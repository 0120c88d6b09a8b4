#pragma once
/// API keys are never stored: a node config holds the SHA-256 of each key,
/// as 64 lowercase hex digits (`usher key hash KEY` prints it), and the edge
/// hashes the bearer token of every request to look it up. OpenSSL's EVP
/// interface computes the digest.

#include <string>
#include <string_view>

namespace usher::actors::http {

/// The SHA-256 of `text` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view text);

/// The SHA-256 of a file's bytes, the same way (a sweep's trace sent to a
/// worker, tools/sweep_workers.hpp). Throws std::runtime_error when it
/// cannot be read.
std::string sha256_file_hex(const std::string& path);

/// True when `text` looks like sha256_hex output (64 hex digits, any case).
bool is_sha256_hex(std::string_view text);

}  // namespace usher::actors::http
