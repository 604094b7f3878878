// A QMP client: greeting and capabilities negotiation, commands matched to replies by id,
// errors with their class and text, and events queued until somebody waits for them.
#pragma once

#include <string>

#include "rig/machine/qmp/json_line_channel.h"
#include "rig/machine/qmp/qmp_protocol.h"

namespace rig {

struct QmpReply {
  json ret;
  std::optional<QmpError> error;
  bool ok() const { return !error.has_value(); }
};

class QmpClient {
 public:
  explicit QmpClient(std::ostream* transcript) : channel_("qmp", transcript) {}

  // Connects, reads the greeting and negotiates capabilities. Throws InfraError on failure.
  void connect(const std::string& socket_path, Deadline deadline);
  bool connected() const { return channel_.connected(); }
  void close() { channel_.close(); }

  // Sends a command and returns its reply; a QMP error is a value here. Throws InfraError on
  // timeout or a dead socket.
  QmpReply execute(const std::string& command, const json& args, Deadline deadline);
  // Same, but a QMP error becomes an InfraError "command: Class: text".
  json execute_ok(const std::string& command, const json& args, Deadline deadline);

  // Waits for an event matching `match`; events that do not match stay queued for later waits.
  std::optional<QmpEvent> wait_event(const EventMatcher& match, Deadline deadline);
  // Reads whatever arrives before `deadline` into the queue (returns early on the first event).
  void poll_events(Deadline deadline);

  const EventQueue& queued() const { return events_; }
  Clock::time_point last_activity() const { return channel_.last_activity(); }

 private:
  JsonLineChannel channel_;
  EventQueue events_;
  int64_t next_id_ = 1;
};

// Matchers for the events the rig waits on.
EventMatcher event_named(std::string name);
EventMatcher event_for_device(std::string name, std::string device_id);

}  // namespace rig
