#include "rig/machine/qemu/qemu_machine.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <sstream>

#include "rig/base/errors.h"
#include "rig/base/paths.h"
#include "rig/machine/qemu/qemu_args.h"
#include "rig/machine/qmp_answers.h"

namespace rig {

template <class Op>
auto QemuMachine::guarded(Op op) -> decltype(op()) {
  try {
    return op();
  } catch (const InfraError&) {
    // A dead or hung guest explains the failure better than a socket error. QEMU closes its
    // sockets a moment before it exits, so give it that moment.
    if (process_ && !down_ && process_->wait_exit(cfg_.timeouts.exit_grace)) throw_down();
    check_alive();
    throw;
  }
}

QemuMachine::QemuMachine(QemuMachineConfig cfg)
    : cfg_(std::move(cfg)),
      transcript_(cfg_.run_dir + "/qmp-transcript.log"),
      qmp_(&transcript_),
      agent_(&transcript_) {
  // The sockets live in the private run directory and nowhere else. QEMU runs there and names
  // them relative to it; a unix socket path is limited to 108 bytes, so the rig reaches a deep
  // run directory through a descriptor of it (/proc/self/fd/N/qmp.sock).
  socket_dir_ = cfg_.run_dir;
  if (socket_dir_.size() + 10 >= 100) {
    run_dir_fd_ = ::open(cfg_.run_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (run_dir_fd_ < 0)
      throw InfraError(fmt::format("cannot open the run directory {}: {}", cfg_.run_dir, std::strerror(errno)));
    socket_dir_ = fmt::format("/proc/self/fd/{}", run_dir_fd_);
  }
  LaunchSpec spec = launch_spec(cfg_, cfg_.extra_kernel_args);
  spec.qemu_binary = cfg_.qemu_binary;
  argv_ = qemu_argv(cfg_.scenario, spec);
  if (cfg_.snapshots) {
    key_ = snapshot_key(snapshot_inputs(cfg_));
    spec.console_append = true;
    spec.incoming = "defer";  // set to the entry's file at restore time
    restore_argv_ = qemu_argv(cfg_.scenario, spec);
  }
}

SnapshotInputs snapshot_inputs(const QemuMachineConfig& cfg) {
  // The launch with placeholders for what differs between runs of the same machine.
  GuestBoot placeholders = cfg;
  placeholders.kernel_path = "KERNEL";
  placeholders.initrd = "INITRD";
  placeholders.run_dir = "RUN";
  LaunchSpec spec = launch_spec(placeholders, cfg.extra_kernel_args);
  spec.qemu_binary = "QEMU";
  spec.qmp_socket = "RUN/qmp.sock";
  spec.qga_socket = "RUN/qga.sock";
  SnapshotInputs in;
  in.argv = qemu_argv(cfg.scenario, spec);
  in.kernel_hash = cfg.kernel_hash;
  in.initrd_hash = cfg.initrd_hash;
  in.qemu_version = cfg.qemu_version;
  in.accel = cfg.accel;
  in.probe = cfg.probe;
  return in;
}

QemuMachine::~QemuMachine() {
  try {
    shutdown();
  } catch (...) {
  }
  if (run_dir_fd_ >= 0) ::close(run_dir_fd_);
}

void QemuMachine::launch(const std::vector<std::string>& argv) {
  {
    std::ofstream cmd(path("qemu-command.sh"));
    cmd << "#!/bin/sh\n# How the rig started this guest (in its run directory: the sockets are relative to it).\ncd "
           "\"$(dirname \"$0\")\" || exit 1\nexec "
        << shell_join(argv) << "\n";
  }
  // A QEMU killed before (a refused snapshot) leaves its sockets behind: never connect to those.
  ::unlink(path("qmp.sock").c_str());
  ::unlink(path("qga.sock").c_str());
  process_ = std::make_unique<QemuProcess>(argv, path("qemu.log"), cfg_.run_dir);
  console_activity_ = Clock::now();

  // QEMU creates its sockets after parsing the command line; a bad argument ends it first.
  Deadline connect_by = deadline_in(cfg_.timeouts.qemu_sockets);
  while (::access(socket_path("qmp.sock").c_str(), F_OK) != 0) {
    if (!process_->running())
      throw InfraError(
          fmt::format("QEMU exited at start ({}): {}", process_->exit_status()->describe(), qemu_log_tail()));
    if (Clock::now() >= connect_by)
      throw InfraError(fmt::format("QEMU did not open its QMP socket within {:.0f} s", cfg_.timeouts.qemu_sockets));
    pause_for(cfg_.timeouts.fast_poll);
  }
  guarded([&] { qmp_.connect(socket_path("qmp.sock"), connect_by); });
  if (!agent_.connect(socket_path("qga.sock"), connect_by))
    throw InfraError("cannot connect to the guest-agent socket");
}

StartInfo QemuMachine::start() {
  StartInfo info;
  info.key = key_;
  const auto started = Clock::now();
  if (cfg_.snapshots) {
    std::optional<SnapshotEntry> e;
    std::string ignored;  // an entry or cache that is not this user's alone
    try {
      e = cfg_.snapshots->find(key_, &ignored);
    } catch (const std::exception& x) {
      info.fallback = fmt::format("snapshot cache unreadable: {}", x.what());
    }
    if (!e && info.fallback.empty()) info.fallback = ignored.empty() ? "no snapshot cached for this key yet" : ignored;
    if (e) {
      try {
        SnapshotReady ready = cfg_.snapshots->read_ready(*e);
        restore(*e, ready);
        restored_ = true;
        info.restored = true;
        info.snapshot = cfg_.snapshots->state_file(*e);
        info.ready.probe_snapshot = ready.probe_snapshot;
        info.seconds = seconds_since(started);
        return info;
      } catch (const std::exception& x) {
        // Refused or stale: drop it, boot instead, and say why.
        info.fallback = fmt::format("snapshot {} refused, booted instead: {}", e->key, x.what());
        cfg_.snapshots->remove(key_);
        reset_for_restart("refused-restore-");  // its console and QEMU log stay as evidence
      }
    }
  }
  info.note = boot_once_more_under_tcg(
      cfg_.accel, path("console.log"), [this] { boot(); }, [this] { reset_for_restart("boot1-"); });
  info.seconds = boot_s_ = seconds_since(started);
  return info;
}

void QemuMachine::reset_for_restart(const std::string& prefix) {
  stop_process();
  console_ = ConsoleParser();
  console_in_.close();
  down_ = false;
  reports_seen_ = 0;
  for (const char* name :
       {"console.log", "qemu.log", "hang-console-tail.txt", "hang-status.txt", "hang-memory.kdump"}) {
    if (prefix.empty() || ::access(path(name).c_str(), F_OK) != 0)
      ::unlink(path(name).c_str());
    else
      ::rename(path(name).c_str(), path(prefix + name).c_str());
  }
}

void QemuMachine::boot() {
  launch(argv_);
  guarded([&] { return qmp_.execute_ok("cont", json::object(), deadline_in(cfg_.timeouts.qmp_command)); });
  Deadline boot_by = deadline_in(cfg_.timeouts.boot);
  while (true) {
    check_alive();
    if (guarded([&] { return agent_.sync(std::min(boot_by, deadline_in(cfg_.timeouts.agent_sync))); })) break;
    if (Clock::now() >= boot_by)
      throw GuestDown(GuestDown::Kind::Hung,
                      fmt::format("the guest agent did not answer within {:.0f} s of boot (console: {} lines)",
                                  cfg_.timeouts.boot, console_.lines_seen()));
  }
}

void QemuMachine::restore(const SnapshotEntry& e, const SnapshotReady& ready) {
  {
    // The boot's console comes first, so that the console and its findings read as after a boot.
    std::ofstream console(path("console.log"), std::ios::binary | std::ios::trunc);
    console << ready.console;
    console.close();
    if (!console) throw InfraError("cannot write the restored console to " + path("console.log"));
  }
  std::vector<std::string> argv = restore_argv_;
  for (auto& a : argv)
    if (a == "defer") a = "exec:" + shell_join({"cat", cfg_.snapshots->state_file(e)});
  launch(argv);
  // -S and -incoming: QEMU loads the state, then stays paused until "cont".
  Deadline by = deadline_in(std::min(cfg_.timeouts.boot, cfg_.timeouts.restore));
  while (true) {
    if (!process_->running())
      throw InfraError(
          fmt::format("QEMU refused the snapshot ({}): {}", process_->exit_status()->describe(), qemu_log_tail()));
    json st = qmp_.execute_ok("query-status", json::object(), deadline_in(cfg_.timeouts.qmp_command));
    if (st.value("status", "") != "inmigrate") break;
    if (Clock::now() >= by) throw InfraError("QEMU did not finish loading the snapshot in time");
    pause_for(std::min(cfg_.timeouts.poll, cfg_.timeouts.migration_poll));
  }
  json mig = qmp_.execute_ok("query-migrate", json::object(), deadline_in(cfg_.timeouts.qmp_command));
  if (mig.value("status", "completed") == "failed") throw InfraError("loading the snapshot failed: " + mig.dump());
  qmp_.execute_ok("cont", json::object(), deadline_in(cfg_.timeouts.qmp_command));
  Deadline agent_by = deadline_in(std::min(cfg_.timeouts.boot, cfg_.timeouts.restored_agent));
  while (!agent_.sync(std::min(agent_by, deadline_in(cfg_.timeouts.agent_sync)))) {
    check_alive();
    if (Clock::now() >= agent_by) throw InfraError("the restored guest's agent did not answer");
  }
  check_alive();
}

SaveOutcome QemuMachine::save_ready(const ReadyState& ready) {
  if (!cfg_.snapshots || restored_ || !process_ || down_) return {};
  try {
    if (cfg_.snapshots->find(key_)) return {};  // a parallel run saved it first
  } catch (const std::exception&) {
    return {};
  }
  std::string tmp;
  bool stopped = false;
  try {
    tmp = cfg_.snapshots->begin(key_);
    const std::string file = tmp + "/state.mig";
    qmp_.execute_ok("stop", json::object(), deadline_in(cfg_.timeouts.qmp_command));
    stopped = true;
    // QEMU's default bandwidth cap (128 MiB/s) would make saving slower than booting.
    qmp_.execute_ok("migrate-set-parameters", {{"max-bandwidth", uint64_t{64} << 30}},
                    deadline_in(cfg_.timeouts.qmp_command));
    qmp_.execute_ok("migrate", {{"uri", "exec:cat > " + shell_join({file})}}, deadline_in(cfg_.timeouts.qmp_command));
    Deadline by = deadline_in(cfg_.timeouts.step);
    std::string status;
    while (true) {
      json m = qmp_.execute_ok("query-migrate", json::object(), deadline_in(cfg_.timeouts.qmp_command));
      status = m.value("status", "");
      if (status == "completed") break;
      if (status == "failed" || status == "cancelled")
        throw InfraError(fmt::format("migration {}: {}", status, m.value("error-desc", "")));
      if (Clock::now() >= by) throw InfraError("migration did not complete in time");
      pause_for(std::min(cfg_.timeouts.poll, cfg_.timeouts.migration_poll));
    }
    read_console();
    SnapshotReady r;
    r.console = read_text_file(path("console.log"));
    r.probe_snapshot = ready.probe_snapshot;
    r.description =
        fmt::format("{} on {}: {}", cfg_.scenario.name, cfg_.kernel_release, describe_inputs(snapshot_inputs(cfg_)));
    r.boot_s = boot_s_;
    cfg_.snapshots->write_ready(tmp, r);
    qmp_.execute_ok("cont", json::object(), deadline_in(cfg_.timeouts.qmp_command));
    stopped = false;
    SaveOutcome saved;
    saved.kind = SaveOutcome::Kind::Saved;
    saved.dir = cfg_.snapshots->commit(key_, tmp);
    saved.state_file = saved.dir + "/state.mig";
    return saved;
  } catch (const std::exception& e) {
    if (!tmp.empty()) cfg_.snapshots->abandon(tmp);
    if (stopped) {
      try {
        qmp_.execute("cont", json::object(), deadline_in(cfg_.timeouts.qmp_command));
      } catch (const std::exception&) {
      }
    }
    SaveOutcome not_saved;
    not_saved.kind = SaveOutcome::Kind::NotSaved;
    not_saved.reason = e.what();
    return not_saved;
  }
}

void QemuMachine::read_console() {
  if (!console_in_.is_open()) {
    console_in_.open(path("console.log"), std::ios::binary);
    if (!console_in_.is_open()) return;
  }
  char buf[65536];
  while (true) {
    console_in_.read(buf, sizeof buf);
    std::streamsize n = console_in_.gcount();
    if (n <= 0) break;
    console_.feed(std::string_view(buf, static_cast<size_t>(n)));
    console_activity_ = Clock::now();
  }
  console_in_.clear();  // clear EOF so the next read sees what QEMU appends
}

std::string QemuMachine::qemu_log_tail() const {
  std::ifstream in(cfg_.run_dir + "/qemu.log");
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last.empty() ? "(no output)" : last;
}

void QemuMachine::throw_down() {
  down_ = true;
  read_console();
  console_.finish();
  std::string how = process_ && process_->exit_status() ? process_->exit_status()->describe() : "unknown";
  throw_guest_gone(console_, fmt::format("QEMU exited unexpectedly ({}): {}", how, qemu_log_tail()));
}

void QemuMachine::check_alive() {
  if (down_ || !process_) throw GuestDown(GuestDown::Kind::Exited, "the guest is not running");
  read_console();
  if (!process_->running()) throw_down();
  if (console_.panicked()) {
    // panic=-1 reboots at once and -no-reboot turns that into an exit: give it a moment.
    process_->wait_exit(cfg_.timeouts.panic_exit);
    throw_down();
  }
  check_reports();
  check_watchdog(
      std::max({console_activity_, qmp_.last_activity(), agent_.last_activity()}), cfg_.timeouts.watchdog,
      [this] { return agent_.sync(deadline_in(cfg_.timeouts.watchdog_ask)); },
      [this] {
        down_ = true;
        save_hang_evidence();
      });
}

void QemuMachine::check_reports() {
  throw_on_step_ending_report(console_, reports_seen_, cfg_.timeouts, [this] { read_console(); });
}

void QemuMachine::save_hang_evidence() {
  read_console();
  // The console's last lines, where the hang's last words are.
  write_console_tail(path("console.log"), path("hang-console-tail.txt"));
  std::ofstream out(path("hang-status.txt"));
  try {
    QmpReply st = qmp_.execute("query-status", json::object(), deadline_in(cfg_.timeouts.hang_status));
    out << "query-status: " << (st.ok() ? st.ret.dump() : st.error->desc) << "\n";
  } catch (const std::exception& e) {
    out << "query-status: no answer: " << e.what() << "\n";
    return;
  }
  // The guest's memory, for crash(8) or drgn, when it fits in the run directory's budget.
  uint64_t ram = cfg_.scenario.boot_ram();
  for (const auto& d : cfg_.scenario.dimms) ram += d.size;
  for (const auto& v : cfg_.scenario.virtio_mems) ram += v.size;
  struct statvfs fs {};
  const bool room = ::statvfs(cfg_.run_dir.c_str(), &fs) == 0 && uint64_t(fs.f_bavail) * fs.f_frsize > 2 * ram;
  if (ram > cfg_.dump_budget || !room) {
    out << fmt::format("dump-guest-memory: skipped (guest RAM {} MiB, budget {} MiB, room {})\n", ram >> 20,
                       cfg_.dump_budget >> 20, room ? "yes" : "no");
    return;
  }
  try {
    QmpReply d =
        qmp_.execute("dump-guest-memory",
                     {{"paging", false}, {"protocol", "file:" + path("hang-memory.kdump")}, {"format", "kdump-zlib"}},
                     deadline_in(cfg_.timeouts.hang_dump));
    out << "dump-guest-memory: " << (d.ok() ? "hang-memory.kdump" : d.error->desc) << "\n";
  } catch (const std::exception& e) {
    out << "dump-guest-memory: " << e.what() << "\n";
  }
}

PlugOutcome QemuMachine::plug_dimm(const Dimm& d, double timeout_s) {
  return guarded([&] { return plug_dimm_unguarded(d, timeout_s); });
}

PlugOutcome QemuMachine::plug_dimm_unguarded(const Dimm& d, double timeout_s) {
  check_alive();
  PlugOutcome out;
  Deadline by = deadline_in(timeout_s > 0 ? timeout_s : cfg_.timeouts.step);
  QmpReply r = qmp_.execute("object-add", memory_backend_object_args(d), by);
  if (!r.ok()) {
    out.detail = fmt::format("object-add refused: {}: {}", r.error->error_class, r.error->desc);
    return out;
  }
  r = qmp_.execute("device_add", dimm_device_args(d), by);
  if (!r.ok()) {
    out.detail = fmt::format("device_add refused: {}: {}", r.error->error_class, r.error->desc);
    qmp_.execute("object-del", {{"id", memory_backend_id(d)}}, by);
    return out;
  }
  // The guest acknowledges the device check (_OST source 1) once it has added the memory.
  while (Clock::now() < by) {
    check_alive();
    auto e = qmp_.wait_event(event_for_device("ACPI_DEVICE_OST", d.id),
                             std::min(by, deadline_in(cfg_.timeouts.event_slice)));
    if (e) return plug_acknowledged(*e);
  }
  return plug_unacknowledged();
}

UnplugOutcome QemuMachine::unplug_dimm(const Dimm& d, double timeout_s) {
  return guarded([&] { return unplug_dimm_unguarded(d, timeout_s); });
}

UnplugOutcome QemuMachine::unplug_dimm_unguarded(const Dimm& d, double timeout_s) {
  check_alive();
  UnplugOutcome out;
  Deadline by = deadline_in(timeout_s > 0 ? timeout_s : cfg_.timeouts.step);
  qmp_.execute_ok("device_del", {{"id", d.id}}, by);
  auto match = [id = d.id](const QmpEvent& e) {
    return event_for_device("DEVICE_DELETED", id)(e) || event_for_device("ACPI_DEVICE_OST", id)(e);
  };
  while (Clock::now() < by) {
    check_alive();
    auto e = qmp_.wait_event(match, std::min(by, deadline_in(cfg_.timeouts.event_slice)));
    if (!e) continue;
    if (e->name == "DEVICE_DELETED") {
      out.result = UnplugResult::Removed;
      out.detail = "DEVICE_DELETED";
      // The backend outlives the device in QEMU; delete it so the address range is free again.
      QmpReply r = qmp_.execute("object-del", {{"id", memory_backend_id(d)}}, deadline_in(cfg_.timeouts.qmp_command));
      if (!r.ok()) out.detail += fmt::format("; object-del failed: {}", r.error->desc);
      return out;
    }
    out.ost_status = e->data["info"].value("status", -1);
    if (ost_status_is_failure(out.ost_status)) {
      out.result = UnplugResult::Refused;
      out.detail =
          fmt::format("the guest refused the eject: _OST {:#x} ({})", out.ost_status, ost_status_name(out.ost_status));
      return out;
    }
  }
  out.result = UnplugResult::Timeout;
  out.detail = out.ost_status < 0
                   ? "no answer from the guest (no ACPI_DEVICE_OST, no DEVICE_DELETED)"
                   : fmt::format("last _OST {:#x} ({}), then nothing", out.ost_status, ost_status_name(out.ost_status));
  return out;
}

ResizeOutcome QemuMachine::resize_virtio_mem(const VirtioMem& v, uint64_t requested, double timeout_s) {
  return guarded([&] { return resize_virtio_mem_unguarded(v, requested, timeout_s); });
}

ResizeOutcome QemuMachine::resize_virtio_mem_unguarded(const VirtioMem& v, uint64_t requested, double timeout_s) {
  const std::string qom = virtio_mem_qom_path(v);
  ResizeIo io;
  io.size_now = [&] {
    json r = qmp_.execute_ok("qom-get", {{"path", qom}, {"property", "size"}}, deadline_in(cfg_.timeouts.qmp_command));
    if (!r.is_number_unsigned()) throw InfraError(fmt::format("qom-get {} size: not a size: {}", qom, r.dump()));
    return r.get<uint64_t>();
  };
  io.set_requested = [&](uint64_t bytes) {
    qmp_.execute_ok("qom-set", {{"path", qom}, {"property", "requested-size"}, {"value", bytes}},
                    deadline_in(cfg_.timeouts.qmp_command));
  };
  io.wait_size_change = [&, id = v.id](Deadline until) {
    qmp_.wait_event(
        [&id](const QmpEvent& e) {
          return e.name == "MEMORY_DEVICE_SIZE_CHANGE" && e.data.is_object() && e.data.value("id", std::string()) == id;
        },
        until);
  };
  io.check_alive = [this] { check_alive(); };
  return run_resize(io, requested, deadline_in(timeout_s > 0 ? timeout_s : cfg_.timeouts.step), cfg_.timeouts.poll);
}

std::vector<MemoryDevice> QemuMachine::memory_devices() {
  check_alive();
  json r = guarded(
      [&] { return qmp_.execute_ok("query-memory-devices", json::object(), deadline_in(cfg_.timeouts.qmp_command)); });
  return memory_devices_from_qmp(r, [](const std::string& id) { return id; });
}

GuestExecResult QemuMachine::guest_exec(const std::string& script, double timeout_s) {
  check_alive();
  return guarded([&] { return agent_.exec(script, deadline_in(timeout_s > 0 ? timeout_s : cfg_.timeouts.guest_cmd)); });
}

std::string QemuMachine::guest_read_file(const std::string& p) {
  check_alive();
  return guarded([&] { return agent_.read_file(p, deadline_in(cfg_.timeouts.guest_cmd)); });
}

MachineInfo QemuMachine::info() const {
  return MachineInfo{"qemu", cfg_.accel, cfg_.scenario.machine.cpu, cfg_.kernel_release, shell_join(argv_)};
}

void QemuMachine::shutdown() {
  stop_process();
  // The sockets go with the guest; the run directory keeps the artifacts only.
  ::unlink(path("qmp.sock").c_str());
  ::unlink(path("qga.sock").c_str());
}

void QemuMachine::stop_process() {
  if (!process_) return;
  // QEMUMachine's order: stop reading the console, quit over QMP, wait, then SIGTERM, SIGKILL.
  if (process_->running() && qmp_.connected()) {
    try {
      qmp_.execute("quit", json::object(), deadline_in(cfg_.timeouts.quit));
    } catch (const std::exception&) {
      // QEMU may close the socket before it answers; the wait below decides.
    }
  }
  if (!process_->wait_exit(cfg_.timeouts.shutdown)) process_->terminate(cfg_.timeouts.terminate);
  qmp_.close();
  agent_.close();
  read_console();  // the file is complete now; keep the last lines for the report
  console_.finish();
  process_.reset();
}

}  // namespace rig
