// The host's channel into the guest: qemu-guest-agent over virtio-serial. Commands run with
// guest-exec (output captured) and files are read with guest-file-*. The serial console is for
// logs only, never for commands.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "rig/machine/qmp/json_line_channel.h"

namespace rig {

struct GuestExecResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0; }
};

// One agent command and its "return" value; throws InfraError for an error or no answer in time.
// The transport differs by backend (the rig's own socket, or libvirt's agent pass-through); what
// is built on it is the same.
using AgentCall =
    std::function<nlohmann::json(const std::string& command, const nlohmann::json& args, Deadline deadline)>;

// guest-exec of "/bin/sh -c script" with its output captured, polled with guest-exec-status.
GuestExecResult agent_exec(const AgentCall& call, const std::string& script, Deadline deadline);
// guest-file-open/read/close of a whole file.
std::string agent_read_file(const AgentCall& call, const std::string& path, Deadline deadline);

class GuestAgent {
 public:
  explicit GuestAgent(std::ostream* transcript) : channel_("qga", transcript) {}

  bool connect(const std::string& socket_path, Deadline deadline) { return channel_.connect(socket_path, deadline); }
  void close() { channel_.close(); }

  // guest-sync-delimited with a fresh id; stale replies from earlier attempts are skipped.
  // Returns false when the agent did not answer before `deadline`.
  bool sync(Deadline deadline);

  // Runs "/bin/sh -c script" in the guest. Throws InfraError when the agent fails or the command
  // does not end before the deadline.
  GuestExecResult exec(const std::string& script, Deadline deadline);
  std::string read_file(const std::string& path, Deadline deadline);

  Clock::time_point last_activity() const { return channel_.last_activity(); }

 private:
  json call(const std::string& command, const json& args, Deadline deadline);

  // True (and forgotten) when `ret` answers one of our sync requests: a late answer must never
  // be taken for a command's result.
  bool is_sync_answer(const json& ret);

  JsonLineChannel channel_;
  int64_t sync_id_ = 0;
  std::set<int64_t> unanswered_syncs_;
  Clock::time_point last_sync_sent_{};
};

std::string base64_decode(const std::string& in);

}  // namespace rig
