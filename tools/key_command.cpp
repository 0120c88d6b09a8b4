/// `usher key hash [KEY]` prints the SHA-256 hex digest a node config stores
/// for an API key (read from stdin when KEY is omitted, so it stays out of
/// shell history); `usher key new` makes a random key and prints it with its
/// hash.

#include <openssl/rand.h>

#include <iostream>

#include "actors/http/key_hash.hpp"
#include "tools/commands.hpp"

namespace usher::tools {

namespace {

const char* key_usage =
    "usage: usher key hash [KEY]   print the SHA-256 hex of KEY (or of one line of stdin)\n"
    "       usher key new          make a random key; print it and its hash\n"
    "The hash goes into a node config as `key = ...` (docs/SERVE.md).\n";

}  // namespace

int key_command(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << key_usage;
    return args.empty() ? exit_bad_input : exit_ok;
  }
  if (args[0] == "hash" && args.size() <= 2) {
    std::string key;
    if (args.size() == 2) {
      key = args[1];
    } else if (!std::getline(std::cin, key)) {
      std::cerr << "usher key hash: no key on stdin\n";
      return exit_bad_input;
    }
    if (key.empty()) {
      std::cerr << "usher key hash: the key is empty\n";
      return exit_bad_input;
    }
    std::cout << actors::http::sha256_hex(key) << "\n";
    return exit_ok;
  }
  if (args[0] == "new" && args.size() == 1) {
    unsigned char bytes[24];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      std::cerr << "usher key new: no randomness (OpenSSL RAND_bytes)\n";
      return exit_failure;
    }
    static const char* alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::string key = "usk_";
    for (auto b : bytes) key += alphabet[b % 62];
    std::cout << "key  " << key << "\nhash " << actors::http::sha256_hex(key) << "\n";
    return exit_ok;
  }
  std::cerr << "usher key: unknown arguments\n" << key_usage;
  return exit_bad_input;
}

}  // namespace usher::tools
