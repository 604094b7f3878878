// The scenario model: a machine topology and the steps to run on it. Plain values, already
// validated; scenario_file.h turns TOML into this.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rig {

// x86_64 memory block and section size while boot RAM ends below 64 GiB: DIMM sizes and addresses
// must be multiples of it or the guest cannot offline the partial block.
constexpr uint64_t kMemoryBlockSize = 128ull * 1024 * 1024;

struct NumaNode {
  int id = 0;
  std::string cpus;     // QEMU cpu list, e.g. "0-1"; empty for a CPU-less node
  uint64_t memory = 0;  // boot RAM of the node in bytes; 0 makes a memory-less node
};

struct Dimm {
  std::string id;
  uint64_t size = 0;
  int node = 0;
  uint64_t addr = 0;
  bool boot = false;     // boot memory: present at start and made usable with memmap=SIZE@ADDR
  bool present = false;  // plugged when QEMU starts (always true for boot DIMMs)
};

// The smallest virtio-mem block the rig accepts: QEMU takes 1 MiB and up (a power of two, at
// least the backend's page size), but the guest works in pageblocks (2 MiB on x86-64) and QEMU's
// default for anonymous RAM is the THP size, 2 MiB.
constexpr uint64_t kVirtioMemMinBlockSize = 2ull * 1024 * 1024;

// A virtio-mem-pci device (docs/virtio-mem.md): `size` bytes of device memory, of which the guest
// is asked to plug `requested`, in blocks of `block_size`. Present from the start; resized by steps.
struct VirtioMem {
  std::string id;
  int node = 0;
  uint64_t size = 0;  // the maximum: the memory backend's size
  uint64_t block_size = kVirtioMemMinBlockSize;
  uint64_t requested = 0;  // requested-size when QEMU starts
  // Where the device's memory lies (memaddr): not written in the file, placed by
  // place_virtio_mems() above every DIMM, so a DIMM plugged later never finds it in its way.
  uint64_t addr = 0;
};

enum class StepAction { Plug, Online, Unplug, ExpectNode, ExpectDimm, Resize };

struct Step {
  StepAction action = StepAction::Plug;
  std::string dimm;      // plug, online, unplug, expect-dimm
  std::string expect;    // unplug: removed|refused; expect-node/dimm: present|absent; resize: reached|partial|refused
  std::string zone;      // online: online|online_kernel|online_movable
  int node = -1;         // expect-node
  double timeout_s = 0;  // 0: the phase default
  std::string device;    // resize: the virtio-mem device
  uint64_t size = 0;     // resize: the requested size
};

struct MachineSpec {
  std::string type = "pc";
  // qemu64 has PSE and no LA57: 4-level paging, 2 MiB vmemmap mappings. Recorded in results.
  std::string cpu = "qemu64";
  int smp = 2;
  uint64_t maxmem = 0;
  int slots = 0;
  std::vector<std::string> kernel_args;
};

// A check this scenario is known to fail on some kernels, with where the evidence is written up.
// Reported as xfail, never as pass.
// It matches a failed check only when the check's name is exactly `check`, the kernel release
// starts with `kernel`, every offending page (its roles, expected and seen text; the detail for a
// check without pages) matches the ECMAScript regex `pattern`, and the check names at most
// `max_pages` pages. Anything else fails as usual; an entry whose check passed is an xpass.
struct ExpectedFailure {
  int case_no = 0;
  std::string check;    // exact check name
  std::string kernel;   // release prefix ("6.1."), empty for every kernel
  std::string pattern;  // regex every offending page's evidence must match
  uint64_t max_pages = 1;
  std::string evidence;  // where it is written up (docs/known-failures.md#...)
};

struct Scenario {
  std::string name;
  std::string path;
  std::string description;
  std::vector<std::string> suites;
  std::vector<int> cases;  // spec cases (1-5) this scenario exercises
  // Declared cases the scenario's checks may leave unexercised, with why ([not_exercised] in the
  // file: `4 = "reason"`). Any other declared case that no check could fail on fails the run.
  std::map<int, std::string> not_exercised;
  MachineSpec machine;
  std::vector<NumaNode> nodes;
  std::vector<Dimm> dimms;
  std::vector<VirtioMem> virtio_mems;
  std::vector<Step> steps;
  std::vector<ExpectedFailure> xfails;
  int cycles = 1;  // run the steps this many times; each cycle must end as it began

  uint64_t boot_ram() const;
  bool uses_probe() const { return !cases.empty(); }
  const Dimm* find_dimm(const std::string& id) const;
  const VirtioMem* find_virtio_mem(const std::string& id) const;
};

const char* step_action_name(StepAction a);

// Where QEMU puts pluggable memory for a machine with `ram` bytes of boot RAM: above 4 GiB and
// any RAM that was relocated there, aligned to 1 GiB; `size` is what maxmem leaves for DIMMs.
struct DeviceMemoryWindow {
  uint64_t base = 0;
  uint64_t size = 0;
};
DeviceMemoryWindow device_memory_window(const MachineSpec& m, uint64_t ram);

// Sets each virtio-mem device's address: in order, above the window's base, every DIMM and the
// devices before it, aligned to its block size and at least the 128M memory block. Where that
// leaves the window, validation says so.
void place_virtio_mems(Scenario& s);

}  // namespace rig
