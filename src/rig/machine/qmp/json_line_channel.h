// A Unix-socket channel carrying one JSON message per line, as both QMP and the guest agent do.
// Every read takes a deadline; every line in either direction can go to a transcript.
#pragma once

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "rig/base/clock.h"
#include "rig/machine/qmp/qmp_protocol.h"

namespace rig {

class JsonLineChannel {
 public:
  // `label` names the peer in errors and in the transcript ("qmp", "qga").
  JsonLineChannel(std::string label, std::ostream* transcript);
  ~JsonLineChannel();
  JsonLineChannel(const JsonLineChannel&) = delete;
  JsonLineChannel& operator=(const JsonLineChannel&) = delete;

  // Retries until the socket accepts or the deadline passes. Returns false on timeout.
  bool connect(const std::string& path, Deadline deadline);
  bool connected() const;
  void close();

  void send(const nlohmann::json& msg);
  // Next JSON message, or nullopt when the deadline passes first. A line that is not JSON is
  // logged and skipped; a closed socket throws InfraError.
  std::optional<nlohmann::json> read(Deadline deadline);
  // Time of the last byte received: the watchdog's sign of life.
  Clock::time_point last_activity() const { return last_activity_; }

 private:
  void log(const char* dir, const std::string& text);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string label_;
  std::ostream* transcript_;
  LineBuffer lines_;
  Clock::time_point last_activity_;
  Clock::time_point opened_;
};

}  // namespace rig
