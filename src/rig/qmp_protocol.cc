#include "rig/qmp_protocol.h"

#include <fmt/format.h>

namespace rig {

void LineBuffer::feed(const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char c = data[i];
    if (static_cast<unsigned char>(c) == 0xFF || c == '\r') continue;
    if (c == '\n') {
      if (!partial_.empty()) lines_.push_back(std::move(partial_));
      partial_.clear();
    } else {
      partial_ += c;
    }
  }
}

std::optional<std::string> LineBuffer::pop() {
  if (lines_.empty()) return std::nullopt;
  std::string l = std::move(lines_.front());
  lines_.pop_front();
  return l;
}

QmpMessage classify_qmp_message(const json& msg) {
  QmpMessage m;
  if (!msg.is_object()) return m;
  if (msg.contains("QMP")) {
    m.kind = QmpMessageKind::Greeting;
  } else if (msg.contains("event")) {
    m.kind = QmpMessageKind::Event;
    m.event.name = msg["event"].is_string() ? msg["event"].get<std::string>() : "";
    m.event.data = msg.value("data", json::object());
    if (msg.contains("timestamp") && msg["timestamp"].is_object()) {
      const auto& ts = msg["timestamp"];
      m.event.timestamp = ts.value("seconds", 0.0) + ts.value("microseconds", 0.0) / 1e6;
    }
  } else if (msg.contains("return") || msg.contains("error")) {
    m.kind = QmpMessageKind::Reply;
    m.id = msg.value("id", json());
    if (msg.contains("return")) m.ret = msg["return"];
    if (msg.contains("error")) {
      const auto& e = msg["error"];
      m.error = QmpError{e.value("class", "GenericError"), e.value("desc", "")};
    }
  }
  return m;
}

std::optional<QmpEvent> EventQueue::take(const EventMatcher& match) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (match(*it)) {
      QmpEvent e = std::move(*it);
      events_.erase(it);
      return e;
    }
  }
  return std::nullopt;
}

std::string ost_status_name(int status) {
  switch (status) {
    case 0x00: return "success";
    case 0x01: return "non-specific failure";
    case 0x02: return "unrecognized notify code";
    case 0x80: return "eject not supported by OSPM";
    case 0x81: return "device in use by application";
    case 0x82: return "device busy";
    case 0x83: return "ejection dependency busy";
    case 0x84: return "ejection in progress";
    default: return fmt::format("status {:#x}", status);
  }
}

bool ost_status_is_failure(int status) { return status != kOstSuccess && status != kOstEjectInProgress; }

}  // namespace rig
