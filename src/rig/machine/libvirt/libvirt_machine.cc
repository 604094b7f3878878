#include "rig/machine/libvirt/libvirt_machine.h"

#include <fmt/format.h>
#include <libvirt/libvirt-qemu.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstdlib>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "rig/base/shell.h"
#include "rig/base/errors.h"
#include "rig/machine/libvirt/libvirt_api.h"
#include "rig/machine/libvirt/libvirt_xml.h"
#include "rig/base/paths.h"
#include "rig/machine/qmp/qmp_client.h"
#include "rig/machine/qmp_answers.h"

namespace rig {

// ---- Pure parts ----

bool UnplugWatch::concerns(const QmpEvent& e) const {
  if (e.name == kLibvirtDeviceRemoved || e.name == kLibvirtDeviceRemovalFailed)
    return e.data.value("device", "") == alias_;
  return event_for_device("ACPI_DEVICE_OST", alias_)(e);
}

std::optional<UnplugOutcome> UnplugWatch::feed(const QmpEvent& e) {
  if (!concerns(e)) return std::nullopt;
  UnplugOutcome out;
  if (e.name == kLibvirtDeviceRemoved) {
    out.result = UnplugResult::Removed;
    out.ost_status = ost_status_;
    out.detail = "libvirt: device-removed";
    return out;
  }
  if (e.name == kLibvirtDeviceRemovalFailed) {
    out.result = UnplugResult::Refused;
    out.ost_status = ost_status_;
    out.detail = ost_status_ >= 0
                     ? fmt::format("the guest refused the eject: _OST {:#x} ({}); libvirt: device-removal-failed",
                                   ost_status_, ost_status_name(ost_status_))
                     : "libvirt: device-removal-failed";
    return out;
  }
  ost_status_ = e.data["info"].value("status", -1);
  if (!ost_status_is_failure(ost_status_)) return std::nullopt;
  out.result = UnplugResult::Refused;
  out.ost_status = ost_status_;
  out.detail = fmt::format("the guest refused the eject: _OST {:#x} ({})", ost_status_, ost_status_name(ost_status_));
  return out;
}

UnplugOutcome UnplugWatch::timed_out() const {
  UnplugOutcome out;
  out.result = UnplugResult::Timeout;
  out.ost_status = ost_status_;
  out.detail = ost_status_ < 0
                   ? "no answer from the guest (no ACPI_DEVICE_OST, no device-removed event)"
                   : fmt::format("last _OST {:#x} ({}), then nothing", ost_status_, ost_status_name(ost_status_));
  return out;
}

std::string dimm_id_of_alias(const std::string& alias) { return alias.rfind("ua-", 0) == 0 ? alias.substr(3) : alias; }

// ---- The machine ----

namespace {

std::atomic<int> g_domains{0};

// What the event-loop thread hands to the rig's thread: events, console bytes and the domain's
// end. Held by shared_ptr from both sides, so a late callback never touches a freed machine.
struct Shared {
  std::mutex mu;
  std::condition_variable changed;
  EventQueue events;
  std::string console;  // bytes not yet fed to the parser
  bool console_closed = false;
  Clock::time_point console_activity = Clock::now();
  bool stopped = false;
  std::string stop_reason;
  // The console callback may be running on the event-loop thread while the rig tears the stream
  // down: the teardown retires it and waits until it is out before freeing the stream.
  bool console_retired = false;
  bool console_busy = false;
  // Which boot the domain callbacks belong to: a boot repeated under TCG starts a new one, and a
  // callback of the first domain still running on the event-loop thread changes nothing.
  uint64_t generation = 0;

  void reset() {
    std::lock_guard<std::mutex> lock(mu);
    ++generation;
    events = EventQueue();
    console.clear();
    console_closed = false;
    console_activity = Clock::now();
    stopped = false;
    stop_reason.clear();
    console_retired = false;
    console_busy = false;
  }
};
using SharedPtr = std::shared_ptr<Shared>;

Shared& shared_of(void* opaque) { return **static_cast<SharedPtr*>(opaque); }
void free_shared(void* opaque) { delete static_cast<SharedPtr*>(opaque); }

// A domain callback's opaque: the state and the boot it was registered for.
struct DomainOpaque {
  SharedPtr shared;
  uint64_t generation;
};
void free_domain_opaque(void* opaque) { delete static_cast<DomainOpaque*>(opaque); }

// The console stream's opaque is a number, not an allocation: libvirt 9.0's remote driver never
// calls a stream callback's free function (fixed upstream in 2025), and a fixed one would free
// what the rig freed itself. The number finds the machine's state in this registry.
std::mutex g_consoles_mu;
std::map<uintptr_t, std::weak_ptr<Shared>> g_consoles;
uintptr_t g_next_console = 0;

uintptr_t register_console(const SharedPtr& sh) {
  std::lock_guard<std::mutex> lock(g_consoles_mu);
  g_consoles[++g_next_console] = sh;
  return g_next_console;
}
void forget_console(uintptr_t id) {
  std::lock_guard<std::mutex> lock(g_consoles_mu);
  g_consoles.erase(id);
}
SharedPtr console_state(void* opaque) {
  std::lock_guard<std::mutex> lock(g_consoles_mu);
  auto it = g_consoles.find(reinterpret_cast<uintptr_t>(opaque));
  return it == g_consoles.end() ? nullptr : it->second.lock();
}

void push_event(void* opaque, QmpEvent e) {
  const DomainOpaque& d = *static_cast<DomainOpaque*>(opaque);
  Shared& sh = *d.shared;
  std::lock_guard<std::mutex> lock(sh.mu);
  if (d.generation != sh.generation) return;  // an earlier boot's domain
  sh.events.push(std::move(e));
  sh.changed.notify_all();
}

void mark_stopped_locked(Shared& sh, const std::string& why) {
  if (!sh.stopped) sh.stop_reason = why;
  sh.stopped = true;
  sh.changed.notify_all();
}

const char* lifecycle_name(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_STOPPED: return "stopped";
    case VIR_DOMAIN_EVENT_CRASHED: return "crashed";
    case VIR_DOMAIN_EVENT_SHUTDOWN: return "shut down";
    default: return "";
  }
}

int on_lifecycle(virConnectPtr, virDomainPtr, int event, int detail, void* opaque) {
  if (event != VIR_DOMAIN_EVENT_STOPPED && event != VIR_DOMAIN_EVENT_CRASHED) return 0;
  const DomainOpaque& d = *static_cast<DomainOpaque*>(opaque);
  std::lock_guard<std::mutex> lock(d.shared->mu);
  if (d.generation == d.shared->generation)
    mark_stopped_locked(*d.shared, fmt::format("libvirt: domain {} (detail {})", lifecycle_name(event), detail));
  return 0;
}

void on_device_removed(virConnectPtr, virDomainPtr, const char* alias, void* opaque) {
  push_event(opaque, QmpEvent{kLibvirtDeviceRemoved, {{"device", alias != nullptr ? alias : ""}}, 0});
}

void on_device_removal_failed(virConnectPtr, virDomainPtr, const char* alias, void* opaque) {
  push_event(opaque, QmpEvent{kLibvirtDeviceRemovalFailed, {{"device", alias != nullptr ? alias : ""}}, 0});
}

void on_monitor_event(virConnectPtr, virDomainPtr, const char* event, long long seconds, unsigned int micros,
                      const char* details, void* opaque) {
  QmpEvent e;
  e.name = event != nullptr ? event : "";
  e.data = details != nullptr ? json::parse(details, nullptr, false) : json::object();
  if (e.data.is_discarded()) e.data = json::object();
  e.timestamp = static_cast<double>(seconds) + micros / 1e6;
  push_event(opaque, std::move(e));
}

void on_close(virConnectPtr, int reason, void* opaque) {
  Shared& sh = shared_of(opaque);  // the connection outlives a repeated boot: every generation
  std::lock_guard<std::mutex> lock(sh.mu);
  mark_stopped_locked(sh, fmt::format("the connection to libvirt closed (reason {})", reason));
}

void on_console(virStreamPtr st, int events, void* opaque) {
  const SharedPtr held = console_state(opaque);
  if (!held) return;
  Shared& sh = *held;
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    if (sh.console_retired) return;
    sh.console_busy = true;
  }
  bool closed = false;
  char buf[16384];
  while (true) {
    const int n = virStreamRecv(st, buf, sizeof buf);
    if (n > 0) {
      std::lock_guard<std::mutex> lock(sh.mu);
      sh.console.append(buf, static_cast<size_t>(n));
      sh.console_activity = Clock::now();
      continue;
    }
    // -2: nothing more for now; 0: the console ended; -1: it broke.
    closed = n != -2 || (events & (VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR)) != 0;
    break;
  }
  if (closed) virStreamEventUpdateCallback(st, 0);
  std::lock_guard<std::mutex> lock(sh.mu);
  if (closed) sh.console_closed = true;
  sh.console_busy = false;
  sh.changed.notify_all();
}

// libvirt's typed callbacks are registered through one generic type; going through void(*)()
// is the conversion the compiler accepts without a cast-function-type warning.
template <class F>
virConnectDomainEventGenericCallback generic(F f) {
  return reinterpret_cast<virConnectDomainEventGenericCallback>(reinterpret_cast<void (*)()>(f));
}

int whole_seconds_left(Deadline d) { return std::max(1, static_cast<int>(std::ceil(seconds_left(d)))); }

}  // namespace

struct LibvirtMachine::Impl {
  SharedPtr shared = std::make_shared<Shared>();
  virConnectPtr conn = nullptr;
  virDomainPtr dom = nullptr;
  virStreamPtr console = nullptr;
  uintptr_t console_id = 0;  // the console callback's key in g_consoles
  virStoragePoolPtr pool = nullptr;
  std::vector<int> event_ids, monitor_ids;
  bool close_cb = false;
  std::ofstream transcript;
  std::ofstream console_log;
  Clock::time_point agent_activity = Clock::now();
  const Clock::time_point opened = Clock::now();

  void log(const std::string& dir, const std::string& text) {
    if (transcript.is_open())
      transcript << fmt::format("{:.3f} {} {}\n", seconds_since(opened), dir, text) << std::flush;
  }

  // One agent command through libvirt; its "return" value. libvirt syncs with the agent itself.
  json agent(const std::string& command, const json& args, Deadline deadline) {
    json msg = {{"execute", command}};
    if (!args.is_null()) msg["arguments"] = args;
    const std::string text = msg.dump();
    log("qga>", text);
    char* reply = virDomainQemuAgentCommand(dom, text.c_str(), whole_seconds_left(deadline), 0);
    if (reply == nullptr) {
      const std::string err = libvirt_error();
      log("qga!", err);
      throw InfraError(fmt::format("qga (libvirt): {}: {}", command, err));
    }
    const std::string raw = reply;
    free(reply);  // NOLINT: libvirt allocates with malloc
    log("qga<", raw.size() > 4096 ? raw.substr(0, 4096) + "..." : raw);
    json j = json::parse(raw, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("return"))
      throw InfraError(fmt::format("qga (libvirt): {}: unexpected reply: {}", command, raw.substr(0, 200)));
    agent_activity = Clock::now();
    return j["return"];
  }

  json monitor(const std::string& command, const json& args, double limit) {
    json msg = {{"execute", command}};
    if (!args.is_null()) msg["arguments"] = args;
    log("qmp>", msg.dump());
    // libvirt waits for QEMU's answer without a time limit: ask on a thread of its own, and end a
    // QEMU that does not answer within `limit` (destroying it ends the pending call).
    const std::string text = msg.dump();
    virDomainPtr d = dom;
    auto call = std::async(std::launch::async, [d, text]() -> std::pair<bool, std::string> {
      char* reply = nullptr;
      if (virDomainQemuMonitorCommand(d, text.c_str(), &reply, 0) != 0) return {false, libvirt_error()};
      std::string r = reply != nullptr ? reply : "";
      free(reply);  // NOLINT: as above
      return {true, r};
    });
    if (call.wait_for(as_duration(limit)) != std::future_status::ready) {
      log("qmp!", fmt::format("{}: no answer in {:.0f} s; destroying the domain", command, limit));
      virDomainDestroy(dom);
      call.wait();
      throw GuestDown(
          GuestDown::Kind::Hung,
          fmt::format("QEMU's monitor did not answer {} within {:.0f} s (through libvirt)", command, limit));
    }
    const auto [ok, raw] = call.get();
    if (!ok) throw InfraError(fmt::format("QEMU monitor (libvirt): {}: {}", command, raw));
    log("qmp<", raw);
    json j = json::parse(raw, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw InfraError(fmt::format("QEMU monitor (libvirt): {}: unexpected reply", command));
    if (j.contains("error"))
      throw InfraError(
          fmt::format("QEMU monitor (libvirt): {}: {}", command, j["error"].value("desc", j["error"].dump())));
    return j.value("return", json::object());
  }

  std::optional<QmpEvent> wait_event(const EventMatcher& match, Deadline by) {
    std::unique_lock<std::mutex> lock(shared->mu);
    while (true) {
      if (auto e = shared->events.take(match)) {
        log("event", e->name + " " + e->data.dump());
        return e;
      }
      if (shared->stopped || Clock::now() >= by) return std::nullopt;
      shared->changed.wait_until(lock, by);
    }
  }

  // Events of an earlier step about the same device (a late _OST, libvirt's echo of a refusal)
  // must never be taken for this step's answer.
  void drop_stale(const EventMatcher& match) {
    std::lock_guard<std::mutex> lock(shared->mu);
    while (auto e = shared->events.take(match)) log("stale", e->name + " " + e->data.dump());
  }

  // Everything still queued, for the transcript of a guest that went away.
  void log_pending() {
    std::lock_guard<std::mutex> lock(shared->mu);
    for (const auto& e : shared->events.all()) log("pending", e.name + " " + e.data.dump());
  }

  bool reset_seen() {
    std::lock_guard<std::mutex> lock(shared->mu);
    for (const auto& e : shared->events.all())
      if (e.name == "RESET") return true;
    return false;
  }

  bool agent_answers(Deadline by) {
    try {
      agent("guest-ping", json(), by);
      return true;
    } catch (const InfraError&) {
      return false;
    }
  }

  // Uploads `file` as volume `name` of the run's pool; returns its path on the libvirt host.
  std::string upload(const std::string& file, const std::string& name) {
    FILE* in = std::fopen(file.c_str(), "rb");
    if (in == nullptr) throw InfraError(fmt::format("cannot read {} to upload it", file));
    std::fseek(in, 0, SEEK_END);
    const long size = std::ftell(in);
    std::fseek(in, 0, SEEK_SET);
    if (size < 0) {
      std::fclose(in);
      throw InfraError(fmt::format("cannot tell the size of {}", file));
    }
    virStorageVolPtr vol =
        virStorageVolCreateXML(pool, storage_volume_xml(name, static_cast<uint64_t>(size)).c_str(), 0);
    if (vol == nullptr) {
      std::fclose(in);
      throw InfraError(fmt::format("cannot create volume {} for {}: {}", name, file, libvirt_error()));
    }
    virStreamPtr st = virStreamNew(conn, 0);
    std::string problem;
    if (virStorageVolUpload(vol, st, 0, static_cast<unsigned long long>(size), 0) != 0) {
      problem = libvirt_error();
    } else {
      std::vector<char> buf(1 << 20);
      size_t n = 0;
      while (problem.empty() && (n = std::fread(buf.data(), 1, buf.size(), in)) > 0) {
        size_t off = 0;
        while (off < n) {
          const int sent = virStreamSend(st, buf.data() + off, n - off);
          if (sent < 0) {
            problem = libvirt_error();
            break;
          }
          off += static_cast<size_t>(sent);
        }
      }
      if (problem.empty() && std::ferror(in) != 0) problem = "reading " + file + " failed";
      if (problem.empty() && virStreamFinish(st) != 0) problem = libvirt_error();
    }
    if (!problem.empty()) virStreamAbort(st);
    virStreamFree(st);
    std::fclose(in);
    char* p = virStorageVolGetPath(vol);
    const std::string where = p != nullptr ? p : "";
    free(p);  // NOLINT: as above
    virStorageVolFree(vol);
    if (!problem.empty()) throw InfraError(fmt::format("cannot upload {} to libvirt: {}", file, problem));
    if (where.empty()) throw InfraError(fmt::format("libvirt gave no path for the uploaded {}", file));
    return where;
  }

  // The pool's work is done once QEMU has read the kernel and initramfs (at start).
  std::string drop_pool() {
    if (pool == nullptr) return "";
    const std::string problem = remove_storage_pool(pool);
    virStoragePoolFree(pool);
    pool = nullptr;
    return problem;
  }

  void unregister() {
    for (int id : event_ids) virConnectDomainEventDeregisterAny(conn, id);
    for (int id : monitor_ids) virConnectDomainQemuMonitorEventDeregister(conn, id);
    event_ids.clear();
    monitor_ids.clear();
    if (console != nullptr) {
      virStreamEventRemoveCallback(console);
      {
        // A callback already running finishes before the stream goes.
        std::unique_lock<std::mutex> lock(shared->mu);
        shared->console_retired = true;
        shared->changed.wait(lock, [&] { return !shared->console_busy; });
      }
      virStreamAbort(console);
      virStreamFree(console);
      console = nullptr;
    }
    if (console_id != 0) {
      forget_console(console_id);
      console_id = 0;
    }
  }
};

void libvirt_reachable(const std::string& uri) {
  silence_libvirt_errors();
  virConnectPtr c = open_libvirt(uri);
  if (c == nullptr)
    throw InfraError(fmt::format("cannot connect to libvirt at {}: {} (is libvirtd running? docs/libvirt.md)", uri,
                                 libvirt_error()));
  virConnectClose(c);
}

LibvirtMachine::LibvirtMachine(LibvirtMachineConfig cfg) : cfg_(std::move(cfg)), impl_(std::make_unique<Impl>()) {
  name_ = rig::domain_name(static_cast<long>(::getpid()), ++g_domains, cfg_.scenario.name);
  impl_->transcript.open(path("libvirt-transcript.log"));
}

LibvirtMachine::~LibvirtMachine() {
  try {
    shutdown();
  } catch (...) {
  }
}

StartInfo LibvirtMachine::start() {
  StartInfo info;
  const auto started = Clock::now();
  try {
    ensure_libvirt_event_loop();
  } catch (const std::exception& e) {
    throw InfraError(e.what());
  }
  impl_->conn = open_libvirt(cfg_.uri);
  if (impl_->conn == nullptr)
    throw InfraError(fmt::format("cannot connect to libvirt at {}: {}", cfg_.uri, libvirt_error()));
  // A libvirtd that goes away is noticed within seconds, not at the next call's timeout.
  virConnectSetKeepAlive(impl_->conn, cfg_.timeouts.libvirt_keepalive, 3);
  auto close_opaque = std::make_unique<SharedPtr>(impl_->shared);
  if (virConnectRegisterCloseCallback(impl_->conn, on_close, close_opaque.get(), free_shared) == 0) {
    close_opaque.release();  // libvirt owns it now
    impl_->close_cb = true;
  }
  info.note = boot_once_more_under_tcg(
      cfg_.accel, path("console.log"), [this] { boot(); },
      [this] {
        stop_domain();
        for (const char* name : {"console.log", "hang-console-tail.txt"})
          if (::access(path(name).c_str(), F_OK) == 0)
            ::rename(path(name).c_str(), path(std::string("boot1-") + name).c_str());
        console_ = ConsoleParser();
        reports_seen_ = 0;
        down_ = false;
        impl_->shared->reset();  // the close callback keeps watching the same state
        name_ += "-boot2";       // never collides with what the first boot may have left
      });
  info.seconds = seconds_since(started);
  return info;
}

void LibvirtMachine::boot() {
  Impl& m = *impl_;
  // The kernel and initramfs travel over the connection, so the libvirt host needs no shared
  // file system; the pool is gone again before the guest runs.
  m.pool = virStoragePoolDefineXML(m.conn, storage_pool_xml(name_).c_str(), 0);
  if (m.pool == nullptr) throw InfraError(fmt::format("cannot define storage pool {}: {}", name_, libvirt_error()));
  if (virStoragePoolBuild(m.pool, 0) != 0 || virStoragePoolCreate(m.pool, 0) != 0) {
    const std::string err = libvirt_error();
    m.drop_pool();
    throw InfraError(fmt::format("cannot start storage pool {}: {}", name_, err));
  }
  LibvirtDomainSpec spec;
  static_cast<LaunchSpec&>(spec) = launch_spec(cfg_);
  spec.name = name_;
  spec.qga_socket.clear();  // libvirt picks the agent channel's path on its host
  std::string xml;
  try {
    spec.kernel = m.upload(cfg_.kernel_path, "vmlinuz");
    if (!cfg_.initrd.empty()) spec.initrd = m.upload(cfg_.initrd, "initrd");
    xml = domain_xml(cfg_.scenario, spec);
  } catch (...) {
    m.drop_pool();
    throw;
  }
  {
    // For the reader: the domain as started, with the local files in place of the volumes.
    LibvirtDomainSpec local = spec;
    local.kernel = cfg_.kernel_path;
    local.initrd = cfg_.initrd;
    std::ofstream out(path("domain.xml"));
    out << domain_xml(cfg_.scenario, local);
  }
  m.log("define", xml);
  // Paused, so that events and the console are in place before the kernel's first line; and
  // autodestroyed when the connection closes, so no domain outlives the rig, even on SIGKILL.
  m.dom = virDomainCreateXML(m.conn, xml.c_str(), VIR_DOMAIN_START_PAUSED | VIR_DOMAIN_START_AUTODESTROY);
  if (m.dom == nullptr) {
    const std::string err = libvirt_error();
    m.drop_pool();
    throw InfraError(fmt::format("libvirt refused to start domain {}: {}", name_, err));
  }
  const std::string pool_problem = m.drop_pool();
  if (!pool_problem.empty()) m.log("pool", "not removed: " + pool_problem);

  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(m.shared->mu);
    generation = m.shared->generation;
  }
  auto reg = [&](int id, virConnectDomainEventGenericCallback cb) {
    auto opaque = std::make_unique<DomainOpaque>(DomainOpaque{m.shared, generation});
    const int cb_id = virConnectDomainEventRegisterAny(m.conn, m.dom, id, cb, opaque.get(), free_domain_opaque);
    if (cb_id < 0) throw InfraError(fmt::format("cannot register for libvirt's domain events: {}", libvirt_error()));
    opaque.release();
    m.event_ids.push_back(cb_id);
  };
  reg(VIR_DOMAIN_EVENT_ID_LIFECYCLE, generic(on_lifecycle));
  reg(VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, generic(on_device_removed));
  reg(VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED, generic(on_device_removal_failed));
  auto mon_opaque = std::make_unique<DomainOpaque>(DomainOpaque{m.shared, generation});
  const int mon = virConnectDomainQemuMonitorEventRegister(m.conn, m.dom, nullptr, on_monitor_event, mon_opaque.get(),
                                                           free_domain_opaque, 0);
  if (mon < 0) throw InfraError(fmt::format("cannot register for QEMU's monitor events: {}", libvirt_error()));
  mon_opaque.release();
  m.monitor_ids.push_back(mon);

  m.console_log.open(path("console.log"), std::ios::binary | std::ios::trunc);
  m.console = virStreamNew(m.conn, VIR_STREAM_NONBLOCK);
  if (m.console == nullptr || virDomainOpenConsole(m.dom, nullptr, m.console, VIR_DOMAIN_CONSOLE_FORCE) != 0)
    throw InfraError(fmt::format("cannot open the console of {}: {}", name_, libvirt_error()));
  m.console_id = register_console(m.shared);
  if (virStreamEventAddCallback(m.console, VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR,
                                on_console, reinterpret_cast<void*>(m.console_id), nullptr) != 0)
    throw InfraError(fmt::format("cannot watch the console of {}: {}", name_, libvirt_error()));
  // A QEMU that died before the events were in place would otherwise go unnoticed.
  if (virDomainIsActive(m.dom) != 1) throw_down("the domain stopped before it was resumed");

  if (virDomainResume(m.dom) != 0) throw InfraError(fmt::format("cannot resume {}: {}", name_, libvirt_error()));
  // The watchdog counts the guest's silence from here, not the upload's.
  m.agent_activity = Clock::now();
  {
    std::lock_guard<std::mutex> lock(m.shared->mu);
    m.shared->console_activity = Clock::now();
  }
  Deadline boot_by = deadline_in(cfg_.timeouts.boot);
  while (true) {
    check_alive();
    if (m.agent_answers(std::min(boot_by, deadline_in(cfg_.timeouts.libvirt_agent_ping)))) break;
    if (Clock::now() >= boot_by)
      throw GuestDown(GuestDown::Kind::Hung,
                      fmt::format("the guest agent did not answer within {:.0f} s of boot (console: {} lines)",
                                  cfg_.timeouts.boot, console_.lines_seen()));
    pause_for(cfg_.timeouts.libvirt_boot_poll);
  }
}

void LibvirtMachine::read_console() {
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(impl_->shared->mu);
    bytes.swap(impl_->shared->console);
  }
  if (bytes.empty()) return;
  if (impl_->console_log.is_open()) impl_->console_log << bytes << std::flush;
  console_.feed(bytes);
}

void LibvirtMachine::throw_down(const std::string& why) {
  down_ = true;
  {
    // The console's last bytes may still be on their way.
    std::unique_lock<std::mutex> lock(impl_->shared->mu);
    impl_->shared->changed.wait_for(lock, as_duration(cfg_.timeouts.console_end),
                                    [&] { return impl_->shared->console_closed; });
  }
  read_console();
  console_.finish();
  impl_->log_pending();
  // on_reboot=destroy: a guest that reset itself (a triple fault prints nothing) is destroyed by
  // libvirt, as -no-reboot ends QEMU.
  throw_guest_gone(console_,
                   impl_->reset_seen() ? why + "; QEMU reported a guest RESET first (on_reboot=destroy)" : why);
}

void LibvirtMachine::check_alive() {
  if (down_ || impl_->dom == nullptr) throw GuestDown(GuestDown::Kind::Exited, "the guest is not running");
  read_console();
  bool stopped = false, console_closed = false;
  std::string reason;
  Clock::time_point console_activity;
  {
    std::unique_lock<std::mutex> lock(impl_->shared->mu);
    // A console that ends is a domain that is stopping, unless libvirt says it still runs.
    if (impl_->shared->console_closed)
      impl_->shared->changed.wait_for(lock, as_duration(cfg_.timeouts.console_end),
                                      [&] { return impl_->shared->stopped; });
    stopped = impl_->shared->stopped;
    console_closed = impl_->shared->console_closed;
    reason = impl_->shared->stop_reason;
    console_activity = impl_->shared->console_activity;
  }
  if (stopped) throw_down(fmt::format("the domain stopped unexpectedly ({})", reason));
  if (console_closed) {
    if (virDomainIsActive(impl_->dom) != 1) throw_down("the domain stopped unexpectedly (its console ended)");
    // Without the console a kernel report or panic would go unseen: the run cannot be judged.
    throw InfraError(
        fmt::format("the console of {} ended while the guest runs (did another client take it with "
                    "`virsh console --force`?): kernel reports would go unseen",
                    name_));
  }
  if (console_.panicked()) {
    // panic=-1 reboots at once and on_reboot=destroy ends the domain: give it a moment.
    std::unique_lock<std::mutex> lock(impl_->shared->mu);
    impl_->shared->changed.wait_for(lock, as_duration(cfg_.timeouts.panic_exit),
                                    [&] { return impl_->shared->stopped; });
    lock.unlock();
    throw_down("the kernel panicked");
  }
  throw_on_step_ending_report(console_, reports_seen_, cfg_.timeouts, [this] { read_console(); });
  check_watchdog(
      std::max(console_activity, impl_->agent_activity), cfg_.timeouts.watchdog,
      [this] { return impl_->agent_answers(deadline_in(cfg_.timeouts.watchdog_ask)); },
      [this] {
        down_ = true;
        save_hang_evidence();
      });
}

void LibvirtMachine::save_hang_evidence() {
  read_console();
  write_console_tail(path("console.log"), path("hang-console-tail.txt"));
  std::ofstream out(path("hang-status.txt"));
  // libvirt's own view of the domain: asking QEMU's monitor could wait on a wedged QEMU.
  int state = -1, reason = -1;
  if (virDomainGetState(impl_->dom, &state, &reason, 0) == 0)
    out << fmt::format("libvirt domain state: {} (reason {})\n", state, reason);
  else
    out << "libvirt domain state: unknown: " << libvirt_error() << "\n";
  out << "dump-guest-memory: not taken under libvirt (the dump would land on the libvirt host)\n";
}

PlugOutcome LibvirtMachine::plug_dimm(const Dimm& d, double timeout_s) {
  check_alive();
  PlugOutcome out;
  const Deadline by = deadline_in(timeout_s > 0 ? timeout_s : cfg_.timeouts.step);
  const std::string xml = dimm_device_xml(d, dimm_slot(cfg_.scenario, d));
  const EventMatcher ost = event_for_device("ACPI_DEVICE_OST", dimm_alias(d));
  impl_->drop_stale(ost);
  impl_->log("attach", xml);
  if (virDomainAttachDeviceFlags(impl_->dom, xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) != 0) {
    out.detail = "libvirt refused the DIMM: " + libvirt_error();
    check_alive();
    return out;
  }
  // The guest acknowledges the device check (_OST source 1) once it has added the memory.
  while (Clock::now() < by) {
    check_alive();
    auto e = impl_->wait_event(ost, std::min(by, deadline_in(cfg_.timeouts.event_slice)));
    if (e) return plug_acknowledged(*e);
  }
  return plug_unacknowledged();
}

UnplugOutcome LibvirtMachine::unplug_dimm(const Dimm& d, double timeout_s) {
  check_alive();
  const Deadline by = deadline_in(timeout_s > 0 ? timeout_s : cfg_.timeouts.step);
  const std::string alias = dimm_alias(d);
  UnplugWatch watch(alias);
  const EventMatcher mine = [&watch](const QmpEvent& e) { return watch.concerns(e); };
  impl_->drop_stale(mine);
  impl_->log("detach", alias);
  // Asynchronous: returns once QEMU has the eject request; the events say how it ended.
  if (virDomainDetachDeviceAlias(impl_->dom, alias.c_str(), VIR_DOMAIN_AFFECT_LIVE) != 0) {
    const std::string err = libvirt_error();
    check_alive();
    throw InfraError(fmt::format("libvirt: detach {}: {}", alias, err));
  }
  while (Clock::now() < by) {
    check_alive();
    auto e = impl_->wait_event(mine, std::min(by, deadline_in(cfg_.timeouts.event_slice)));
    if (!e) continue;
    if (auto out = watch.feed(*e)) {
      if (out->result == UnplugResult::Refused && e->name != kLibvirtDeviceRemovalFailed) {
        // libvirt learns of the refusal from the same _OST: let it settle before the next step.
        const std::string a = alias;
        impl_->wait_event(
            [a](const QmpEvent& x) { return x.name == kLibvirtDeviceRemovalFailed && x.data.value("device", "") == a; },
            deadline_in(cfg_.timeouts.refusal_settle));
      }
      return *out;
    }
  }
  return watch.timed_out();
}

// The requested size goes through libvirt (virDomainUpdateDeviceFlags, so its view of the domain
// stays true); the plugged size and the device's address are read from QEMU through libvirt's
// monitor passthrough, as query-memory-devices is, and the wait is the QEMU backend's.
ResizeOutcome LibvirtMachine::resize_virtio_mem(const VirtioMem& v, uint64_t requested, double timeout_s) {
  check_alive();
  const std::string alias = virtio_mem_alias(v);
  const std::string qom = "/machine/peripheral/" + alias;
  const auto qom_get = [&](const char* property) {
    json r = impl_->monitor("qom-get", {{"path", qom}, {"property", property}}, cfg_.timeouts.libvirt_monitor);
    if (!r.is_number_unsigned())
      throw InfraError(fmt::format("qom-get {} {}: not a number: {}", qom, property, r.dump()));
    return r.get<uint64_t>();
  };
  // libvirt 9.0 cannot give a virtio-mem device its address: QEMU placed it. The judge reads the
  // device's memory blocks at the address the rig placed it (place_virtio_mems), so they must agree.
  const uint64_t addr = qom_get("memaddr");
  if (addr != v.addr)
    throw InfraError(
        fmt::format("virtio-mem {}: QEMU placed it at {:#x} under libvirt, not at {:#x} where the rig "
                    "places it (libvirt 9.0 cannot set the address); run it with the QEMU backend",
                    v.id, addr, v.addr));
  ResizeIo io;
  io.size_now = [&] { return qom_get("size"); };
  io.set_requested = [&](uint64_t bytes) {
    char* live = virDomainGetXMLDesc(impl_->dom, 0);
    if (live == nullptr) throw InfraError(fmt::format("libvirt: the domain's XML: {}", libvirt_error()));
    const std::string xml = virtio_mem_update_xml(live, alias, bytes);
    std::free(live);
    if (xml.empty()) throw InfraError(fmt::format("libvirt: the live domain has no virtio-mem device {}", alias));
    impl_->log("update", xml);
    if (virDomainUpdateDeviceFlags(impl_->dom, xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) != 0) {
      const std::string err = libvirt_error();
      check_alive();
      throw InfraError(fmt::format("libvirt: update {} to requested {}: {}", alias, bytes, err));
    }
  };
  const EventMatcher changed = [alias](const QmpEvent& e) {
    return e.name == "MEMORY_DEVICE_SIZE_CHANGE" && e.data.is_object() && e.data.value("id", std::string()) == alias;
  };
  impl_->drop_stale(changed);
  io.wait_size_change = [&](Deadline until) { impl_->wait_event(changed, until); };
  io.check_alive = [this] { check_alive(); };
  return run_resize(io, requested, deadline_in(timeout_s > 0 ? timeout_s : cfg_.timeouts.step), cfg_.timeouts.poll);
}

std::vector<MemoryDevice> LibvirtMachine::memory_devices() {
  check_alive();
  json r = impl_->monitor("query-memory-devices", json(), cfg_.timeouts.libvirt_monitor);
  return memory_devices_from_qmp(r, dimm_id_of_alias);
}

GuestExecResult LibvirtMachine::guest_exec(const std::string& script, double timeout_s) {
  check_alive();
  try {
    return agent_exec([this](const std::string& c, const json& a, Deadline d) { return impl_->agent(c, a, d); }, script,
                      deadline_in(timeout_s > 0 ? timeout_s : cfg_.timeouts.guest_cmd));
  } catch (const InfraError&) {
    check_alive();  // a dead guest explains the failure better
    throw;
  }
}

std::string LibvirtMachine::guest_read_file(const std::string& p) {
  check_alive();
  try {
    return agent_read_file([this](const std::string& c, const json& a, Deadline d) { return impl_->agent(c, a, d); }, p,
                           deadline_in(cfg_.timeouts.guest_cmd));
  } catch (const InfraError&) {
    check_alive();
    throw;
  }
}

MachineInfo LibvirtMachine::info() const {
  return MachineInfo{"libvirt", cfg_.accel, cfg_.scenario.machine.cpu, cfg_.kernel_release,
                     shell_join({"virsh", "-c", cfg_.uri, "create", path("domain.xml"), "--console"})};
}

void LibvirtMachine::stop_domain() {
  Impl& m = *impl_;
  if (m.dom != nullptr) {
    if (virDomainIsActive(m.dom) == 1 && virDomainDestroy(m.dom) != 0) m.log("destroy", "failed: " + libvirt_error());
    {
      // The console ends with the domain; keep its last lines.
      std::unique_lock<std::mutex> lock(m.shared->mu);
      m.shared->changed.wait_for(lock, as_duration(cfg_.timeouts.console_end),
                                 [&] { return m.shared->console_closed || m.console == nullptr; });
    }
    m.unregister();
    virDomainFree(m.dom);
    m.dom = nullptr;
  }
  m.unregister();
  m.drop_pool();
  read_console();
  console_.finish();
  m.console_log.close();
}

void LibvirtMachine::shutdown() {
  stop_domain();
  Impl& m = *impl_;
  if (m.conn != nullptr) {
    if (m.close_cb) virConnectUnregisterCloseCallback(m.conn, on_close);
    m.close_cb = false;
    virConnectClose(m.conn);
    m.conn = nullptr;
  }
}

}  // namespace rig
