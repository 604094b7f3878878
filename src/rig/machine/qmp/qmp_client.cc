#include "rig/machine/qmp/qmp_client.h"

#include <fmt/format.h>

#include "rig/base/errors.h"

namespace rig {

void QmpClient::connect(const std::string& socket_path, Deadline deadline) {
  if (!channel_.connect(socket_path, deadline))
    throw InfraError(fmt::format("qmp: could not connect to {}", socket_path));
  while (true) {
    auto msg = channel_.read(deadline);
    if (!msg) throw InfraError("qmp: no greeting from QEMU");
    if (classify_qmp_message(*msg).kind == QmpMessageKind::Greeting) break;
  }
  execute_ok("qmp_capabilities", json::object(), deadline);
}

QmpReply QmpClient::execute(const std::string& command, const json& args, Deadline deadline) {
  const int64_t id = next_id_++;
  json msg = {{"execute", command}, {"id", id}};
  if (!args.is_null() && !args.empty()) msg["arguments"] = args;
  channel_.send(msg);
  while (true) {
    auto in = channel_.read(deadline);
    if (!in) throw InfraError(fmt::format("qmp: no reply to '{}' in time", command));
    QmpMessage m = classify_qmp_message(*in);
    if (m.kind == QmpMessageKind::Event) {
      events_.push(std::move(m.event));
    } else if (m.kind == QmpMessageKind::Reply && m.id == json(id)) {
      return QmpReply{m.ret, m.error};
    }
    // A reply with another id belongs to a command that timed out earlier: drop it.
  }
}

json QmpClient::execute_ok(const std::string& command, const json& args, Deadline deadline) {
  QmpReply r = execute(command, args, deadline);
  if (!r.ok()) throw InfraError(fmt::format("qmp: {}: {}: {}", command, r.error->error_class, r.error->desc));
  return r.ret;
}

std::optional<QmpEvent> QmpClient::wait_event(const EventMatcher& match, Deadline deadline) {
  if (auto e = events_.take(match)) return e;
  while (true) {
    auto in = channel_.read(deadline);
    if (!in) return std::nullopt;
    QmpMessage m = classify_qmp_message(*in);
    if (m.kind != QmpMessageKind::Event) continue;
    if (match(m.event)) return m.event;
    events_.push(std::move(m.event));
  }
}

void QmpClient::poll_events(Deadline deadline) {
  auto in = channel_.read(deadline);
  if (!in) return;
  QmpMessage m = classify_qmp_message(*in);
  if (m.kind == QmpMessageKind::Event) events_.push(std::move(m.event));
}

EventMatcher event_named(std::string name) {
  return [name](const QmpEvent& e) { return e.name == name; };
}

namespace {
// obj[key] when obj is an object holding a string there; "" for anything else QEMU might send.
std::string string_field(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}
}  // namespace

EventMatcher event_for_device(std::string name, std::string device_id) {
  return [name, device_id](const QmpEvent& e) {
    if (e.name != name) return false;
    if (e.name == "ACPI_DEVICE_OST")
      return e.data.is_object() && e.data.contains("info") && string_field(e.data["info"], "device") == device_id;
    return string_field(e.data, "device") == device_id;
  };
}

}  // namespace rig
