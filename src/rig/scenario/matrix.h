// The matrix of a run, as plain data: which (scenario, kernel, run) items a shard owns, which
// guests fit the machine at once, and what the repeated runs of one pair add up to (flaky).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rig/scenario/results.h"
#include "rig/scenario/scenario.h"

namespace rig {

// --shard I/N: this machine runs the I-th of N parts of the matrix.
struct Shard {
  int index = 1;
  int count = 1;
};
// "2/3" -> {2, 3}; throws UsageError for anything else (0, I > N, garbage).
Shard parse_shard(const std::string& text);

struct MatrixItem {
  size_t scenario = 0;  // index into the scenarios
  size_t kernel = 0;    // index into the kernels
  int run = 1;          // 1..repeat
};

// Every (scenario, kernel) pair, repeated `repeat` times, ordered kernel by kernel; a shard
// keeps the pairs whose position in the order by (scenario name, kernel name) is I-1 modulo N,
// so shards of one matrix are disjoint, their union is the matrix, and every run of a pair stays
// on one machine (flaky needs them all). `kernel_names` are what the user named.
std::vector<MatrixItem> plan_matrix(const std::vector<std::string>& scenario_names,
                                    const std::vector<std::string>& kernel_names, int repeat, Shard shard);

// What one guest costs the host: its vCPUs and its memory (boot RAM, every DIMM, QEMU's own).
struct GuestCost {
  int vcpus = 1;
  uint64_t ram = 0;
};
GuestCost guest_cost(const Scenario& s);

// How many guests this process starts at once (host_slots.h then keeps all rig processes'
// guests within the host's cores): `jobs` > 0 caps their number (the user's -j; vCPUs no longer
// count), else the host's cores bound the sum of vCPUs. Memory always counts.
struct HostBudget {
  int cpus = 1;
  uint64_t ram = 0;  // what guests may use
  int jobs = 0;      // 0: by cores
};
// The host's budget from its core count and MemAvailable (80 % of it goes to guests).
HostBudget host_budget(int cpus, uint64_t mem_available, int jobs);
// Whether `next` may start beside `running`. A guest always starts when nothing runs, so a
// guest bigger than the host still runs (alone).
bool fits(const HostBudget& b, const std::vector<GuestCost>& running, const GuestCost& next);
// The number of guests that run at once when every guest costs `typical` (for the summary).
int default_jobs(const HostBudget& b, const GuestCost& typical);

// The runs of one (scenario, kernel) pair added up.
struct MatrixRow {
  std::string scenario;
  std::string kernel;  // release
  int runs = 0;
  int passed = 0;       // pass, xfail, xpass
  std::string verdict;  // the runs' verdict, or "flaky" when some passed and some failed
};
std::vector<MatrixRow> matrix_rows(const std::vector<ScenarioResult>& results);

}  // namespace rig
