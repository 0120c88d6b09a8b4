#pragma once
/// Tells systemd what `usher serve` is doing, for a unit with `Type=notify`
/// (packaging/usher.service): READY=1 once the node listens, STOPPING=1 when
/// a stop begins. Both go to the socket named by $NOTIFY_SOCKET through
/// libsystemd's sd_notify; without $NOTIFY_SOCKET (a node started by hand),
/// or in a build without libsystemd (CMake found none), they do nothing.
/// Safe to call from any thread; failures are ignored, since a node that
/// serves must not stop because its supervisor did not hear it.

#include <string>

namespace usher::tools {

/// READY=1, with `status` as the unit's STATUS= line (`systemctl status`).
void notify_ready(const std::string& status);

/// STOPPING=1: the node stopped accepting and is answering what it holds.
void notify_stopping();

}  // namespace usher::tools
