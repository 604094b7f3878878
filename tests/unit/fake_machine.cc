#include "fake_machine.h"

#include <fmt/format.h>

#include <algorithm>

namespace rig::testing {

size_t FakeLog::count(const std::string& prefix) const {
  size_t n = 0;
  for (const auto& c : calls) n += c.rfind(prefix, 0) == 0;
  return n;
}

GuestExecResult exec_ok(std::string out) { return {0, std::move(out), ""}; }
GuestExecResult exec_exit(int code, std::string err) { return {code, "", std::move(err)}; }

FakeMachine::FakeMachine(const Scenario& s, FakeScript script, std::shared_ptr<FakeLog> log)
    : script_(std::move(script)), log_(std::move(log)) {
  for (const auto& d : s.dimms)
    if (d.present || d.boot) listed_[d.id] = d;
}

void FakeMachine::moment(const std::string& name) {
  if (auto c = script_.console_at.find(name); c != script_.console_at.end()) console_.feed(c->second);
  if (auto d = script_.down_at.find(name); d != script_.down_at.end()) {
    down_ = true;
    down_kind_ = d->second;
    down_why_ = fmt::format("fake guest down at {}", name);
    throw GuestDown(d->second, down_why_);
  }
}

StartInfo FakeMachine::start() {
  log_->calls.push_back("start");
  moment("start");
  StartInfo info;
  info.seconds = 0.01;
  return info;
}

PlugOutcome FakeMachine::plug_dimm(const Dimm& d, double) {
  log_->calls.push_back("plug:" + d.id);
  PlugOutcome p;
  p.added = true;
  p.detail = "DIMM added";
  if (auto it = script_.plug.find(d.id); it != script_.plug.end()) p = it->second;
  if (p.added) listed_[d.id] = d;
  moment("plug:" + d.id);
  return p;
}

UnplugOutcome FakeMachine::unplug_dimm(const Dimm& d, double) {
  log_->calls.push_back("unplug:" + d.id);
  UnplugOutcome u;
  u.result = UnplugResult::Removed;
  u.detail = "DEVICE_DELETED";
  if (auto it = script_.unplug.find(d.id); it != script_.unplug.end()) u = it->second;
  if (u.result == UnplugResult::Removed && !script_.qemu_keeps.count(d.id)) listed_.erase(d.id);
  moment("unplug:" + d.id);
  return u;
}

ResizeOutcome FakeMachine::resize_virtio_mem(const VirtioMem& v, uint64_t requested, double) {
  log_->calls.push_back(fmt::format("resize:{}:{}", v.id, requested));
  auto size = vmem_size_.emplace(v.id, v.requested).first;
  ResizeOutcome o;
  o.requested = requested;
  o.before = size->second;
  o.after = requested;
  if (auto it = script_.resize.find(v.id); it != script_.resize.end() && !it->second.empty()) {
    const size_t n = answered_["resize:" + v.id]++;
    o = it->second[std::min(n, it->second.size() - 1)];
  }
  o.result = resize_result(o.requested, o.before, o.after, o.timed_out);
  o.detail = resize_detail(o);
  size->second = o.after;
  moment("resize:" + v.id);
  return o;
}

std::vector<MemoryDevice> FakeMachine::memory_devices() {
  log_->calls.push_back("memory_devices");
  std::vector<MemoryDevice> out;
  for (const auto& [id, d] : listed_) out.push_back({id, d.addr, d.size, d.node});
  return out;
}

GuestExecResult FakeMachine::guest_exec(const std::string& command, double) {
  log_->calls.push_back("exec:" + command);
  if (down_) throw GuestDown(down_kind_, down_why_);
  for (const auto& [key, answers] : script_.exec) {
    if (command.find(key) == std::string::npos || answers.empty()) continue;
    size_t& n = answered_[key];
    GuestExecResult r = answers[std::min(n, answers.size() - 1)];
    ++n;
    moment("exec:" + key);
    return r;
  }
  return exec_exit(127, "fake: no answer scripted for: " + command);
}

std::string FakeMachine::guest_read_file(const std::string& path) {
  log_->calls.push_back("read:" + path);
  if (down_) throw GuestDown(down_kind_, down_why_);
  auto it = script_.files.find(path);
  return it == script_.files.end() ? "" : it->second;
}

void FakeMachine::check_alive() {
  log_->calls.push_back("check_alive");
  if (down_) throw GuestDown(down_kind_, down_why_);
}

SaveOutcome FakeMachine::save_ready(const ReadyState&) {
  log_->calls.push_back("save");
  return script_.save;
}

MachineInfo FakeMachine::info() const { return {"fake", "tcg", "qemu64", "6.1.0-fake", "fake"}; }

void FakeMachine::shutdown() {
  log_->calls.push_back("shutdown");
  log_->shut_down = true;
  console_.finish();
  if (script_.shutdown_error) throw std::runtime_error(*script_.shutdown_error);
}

}  // namespace rig::testing
