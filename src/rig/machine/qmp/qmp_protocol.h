// The pure half of QMP: framing bytes into JSON messages, telling greetings, replies and events
// apart, an event queue that never loses what it did not match, and ACPI _OST decoding. The
// socket half is qmp_client.h.
#pragma once

#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace rig {

using json = nlohmann::json;

// Splits a byte stream into lines. QMP ends messages with "\r\n"; the guest agent may put 0xFF
// delimiter bytes in front of a reply after guest-sync-delimited: both are dropped here.
// Memory stays bounded on an endless line: a line longer than max_line bytes is cut, and what is
// returned for it is its start and a note, which no JSON parser accepts.
class LineBuffer {
 public:
  // The largest legitimate line is a guest-exec-status with 16 MiB of output (qemu-ga's
  // GUEST_EXEC_MAX_OUTPUT) in base64 for stdout and stderr each: about 43 MiB.
  static constexpr size_t kDefaultMaxLine = size_t{64} << 20;
  explicit LineBuffer(size_t max_line = kDefaultMaxLine) : max_line_(max_line) {}
  void feed(const char* data, size_t n);
  std::optional<std::string> pop();
  bool empty() const { return lines_.empty(); }

 private:
  size_t max_line_;
  bool cut_ = false;  // the current line is longer than max_line_: the rest of it is dropped
  std::string partial_;
  std::deque<std::string> lines_;
};

struct QmpEvent {
  std::string name;
  json data;
  double timestamp = 0;  // seconds, from QEMU's event timestamp
};

struct QmpError {
  std::string error_class;  // "GenericError", "DeviceNotFound", ...
  std::string desc;
};

enum class QmpMessageKind { Greeting, Reply, Event, Unknown };

struct QmpMessage {
  QmpMessageKind kind = QmpMessageKind::Unknown;
  json id;                        // replies: the id we sent
  json ret;                       // replies: "return"
  std::optional<QmpError> error;  // replies: "error"
  QmpEvent event;                 // events
};

// Never throws: fields of the wrong type read as absent. A message nested deeper than
// kQmpMaxDepth levels (QEMU's nest a few) is Unknown, so nothing copies or compares it recursively.
constexpr int kQmpMaxDepth = 64;
QmpMessage classify_qmp_message(const json& msg);

using EventMatcher = std::function<bool(const QmpEvent&)>;

// Events read while waiting for something else stay here until somebody asks for them.
class EventQueue {
 public:
  void push(QmpEvent e) { events_.push_back(std::move(e)); }
  std::optional<QmpEvent> take(const EventMatcher& match);
  size_t size() const { return events_.size(); }
  const std::deque<QmpEvent>& all() const { return events_; }

 private:
  std::deque<QmpEvent> events_;
};

// ACPI _OST status codes for an eject request (ACPI spec, table "Status codes for Notify 0x03").
std::string ost_status_name(int status);
// True for the statuses that end an eject attempt with a refusal.
bool ost_status_is_failure(int status);
constexpr int kOstSuccess = 0;
constexpr int kOstEjectInProgress = 0x84;
constexpr int kOstDeviceBusy = 0x82;

}  // namespace rig
