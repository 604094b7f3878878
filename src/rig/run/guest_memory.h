// Reads the guest's memory state through the Machine interface (every guest command bounded by
// the caller's timeouts table: `timeout_s` is its guest_cmd): the probe's snapshot and
// queries (images/probe), and each node's MemTotal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rig/spec/case_checks.h"
#include "rig/spec/free_trace.h"
#include "rig/machine/machine.h"
#include "rig/spec/memmap_snapshot.h"

namespace rig {

struct SnapshotText {
  MemmapSnapshot snapshot;
  std::string raw;  // kept as an artifact
};

// The guest's probe is the program rig-probe (images/probe/rig-probe.c): it reads the kernel
// through BTF and /proc/kcore, or passes on the rig_probe module's answers when that is loaded.
constexpr const char* kProbeSnapshotCommand = "rig-probe snapshot";
// The guest command that asks the probe about `batch` (one of query_batches()), quoted.
std::string probe_query_command(const std::string& batch);
// Throws InfraError when the probe fails, ProbeFormatError when its output is bad.
SnapshotText read_probe_snapshot(Machine& m, double timeout_s);
// The state now of `ranges` ("a-b c ..."); returns parsed runs and the raw answer (the answers of
// all batches, one after the other, when the query had to be split). Throws ProbeFormatError when
// the answer does not cover every asked pfn exactly once and in order, or the probe rejects it.
std::vector<PfnStateRun> query_probe(Machine& m, const std::string& ranges, std::string* raw, double timeout_s);
// The probe's limits per query (images/probe/rig_probe.c MAX_QUERY_PFNS, MAX_QUERY_RANGES) and a
// bound on the text of one guest command.
constexpr uint64_t kProbeQueryMaxPfns = 1ull << 22;
constexpr uint64_t kProbeQueryMaxRanges = 1ull << 16;
constexpr size_t kProbeQueryMaxText = 60000;
// Pure: splits `ranges` into queries within those limits, in order (ranges renormalized to
// decimal). Throws ProbeFormatError for a malformed range.
std::vector<std::string> query_batches(const std::string& ranges);
// The step's page frees (spec/free_trace.h), traced by the guest's kernel through rig-probe:
// "setup" sizes the trace buffer once at boot; "start" before the step leaves out the pfns about
// to go; the stop reads the frees. A probe or kernel that cannot trace answers "tracing absent",
// and a command that fails gives a trace that is not available, with the reason: neither is an
// error (the judge then asks for other evidence that a page was freed).
constexpr const char* kFreeTraceSetupCommand = "rig-probe frees setup";
std::string free_trace_start_command(uint64_t first_pfn, uint64_t last_pfn);
constexpr const char* kFreeTraceStopCommand = "rig-probe frees stop";
// Runs `command` (setup or start); empty when the guest traces, else why not.
std::string free_trace_command(Machine& m, const std::string& command, double timeout_s);
FreeTrace read_free_trace(Machine& m, std::string* raw, double timeout_s);
// The guest command that says whether the hugetlb vmemmap optimisation (HVO) may have remapped
// memmap pages: the sysctl vm.hugetlb_optimize_vmemmap ("sysctl 0|1", "sysctl absent" for a
// kernel built without HVO), the persistent hugetlb pages of every size
// (/sys/kernel/mm/hugepages/hugepages-*/nr_hugepages, "hugepages absent" without hugetlbfs),
// then "end".
extern const char* const kHvoCommand;
// Pure: that answer says HVO is on and hugetlb pages of some size exist (their vmemmap may be
// remapped). Throws ProbeFormatError for an answer it cannot read: the rig never assumes HVO off.
bool hvo_in_effect(const std::string& answer);
// Runs kHvoCommand; throws InfraError when it fails, when its answer cannot be read, and when
// HVO is in effect (the page model does not follow it: docs/accounting.md).
void refuse_hvo(Machine& m, double timeout_s);
NodeMemTotals read_node_memtotals(Machine& m, double timeout_s);
// Node id -> {MemTotal, free} in kB, where free is MemFree plus the pages sitting in per-cpu
// lists (/proc/zoneinfo "count:"): since 5.14 those hold whole order-9 blocks, so a freed 2 MiB
// memmap block can hide there and MemFree alone jumps by 4 MiB (seen on Debian 6.1).
std::map<int, std::pair<uint64_t, uint64_t>> read_node_meminfo(Machine& m, double timeout_s);
// Pure: /proc/zoneinfo -> node id -> pages in per-cpu lists.
std::map<int, uint64_t> parse_zoneinfo_pcp_pages(const std::string& zoneinfo);
// The output of the node meminfo loop ("@N" then node N's meminfo, for each node) -> node ->
// {MemTotal, MemFree + pages on per-cpu lists} kB. A node without MemTotal or MemFree throws.
std::map<int, std::pair<uint64_t, uint64_t>> parse_nodes_meminfo(const std::string& text,
                                                                 const std::map<int, uint64_t>& pcp_pages);
// Pure: "Node 0 MemTotal:  918560 kB" lines of one meminfo file -> kB.
std::optional<uint64_t> parse_node_memtotal(const std::string& meminfo);
std::optional<uint64_t> parse_node_meminfo_field(const std::string& meminfo, const std::string& field);

}  // namespace rig
