#include "rig/machine/qmp/qmp_protocol.h"

#include <fmt/format.h>

#include <algorithm>

namespace rig {

void LineBuffer::feed(const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char c = data[i];
    if (static_cast<unsigned char>(c) == 0xFF || c == '\r') continue;
    if (c == '\n') {
      if (cut_) {
        partial_.resize(std::min<size_t>(partial_.size(), 200));
        partial_ += fmt::format("... (cut: a line longer than {} bytes)", max_line_);
        cut_ = false;
      }
      if (!partial_.empty()) lines_.push_back(std::move(partial_));
      partial_.clear();
    } else if (partial_.size() < max_line_) {
      partial_ += c;
    } else {
      cut_ = true;
    }
  }
}

std::optional<std::string> LineBuffer::pop() {
  if (lines_.empty()) return std::nullopt;
  std::string l = std::move(lines_.front());
  lines_.pop_front();
  return l;
}

namespace {

// True when j nests deeper than `left` levels (recursion bounded by `left`).
bool deeper_than(const json& j, int left) {
  if (!j.is_structured()) return false;
  if (left == 0) return true;
  for (const auto& e : j)
    if (deeper_than(e, left - 1)) return true;
  return false;
}

// The member `key` of object `o` if it has the type `want` says, else nullptr.
const json* member(const json& o, const char* key, bool (json::*want)() const noexcept) {
  auto it = o.find(key);
  return it != o.end() && ((*it).*want)() ? &*it : nullptr;
}

}  // namespace

QmpMessage classify_qmp_message(const json& msg) {
  QmpMessage m;
  if (!msg.is_object() || deeper_than(msg, kQmpMaxDepth)) return m;
  if (msg.contains("QMP")) {
    m.kind = QmpMessageKind::Greeting;
  } else if (msg.contains("event")) {
    m.kind = QmpMessageKind::Event;
    const json* name = member(msg, "event", &json::is_string);
    m.event.name = name ? name->get<std::string>() : "";
    const json* data = member(msg, "data", &json::is_object);
    m.event.data = data ? *data : json::object();  // QEMU's event data is always an object
    if (const json* ts = member(msg, "timestamp", &json::is_object)) {
      const json* s = member(*ts, "seconds", &json::is_number);
      const json* us = member(*ts, "microseconds", &json::is_number);
      m.event.timestamp = (s ? s->get<double>() : 0.0) + (us ? us->get<double>() : 0.0) / 1e6;
    }
  } else if (msg.contains("return") || msg.contains("error")) {
    m.kind = QmpMessageKind::Reply;
    m.id = msg.value("id", json());
    if (msg.contains("return")) m.ret = msg["return"];
    if (msg.contains("error")) {
      // A malformed error is still an error: its class and text read as unknown.
      QmpError err{"GenericError", ""};
      if (const json* e = member(msg, "error", &json::is_object)) {
        if (const json* c = member(*e, "class", &json::is_string)) err.error_class = c->get<std::string>();
        if (const json* d = member(*e, "desc", &json::is_string)) err.desc = d->get<std::string>();
      }
      m.error = err;
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
