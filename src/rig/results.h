// What a run produced: plain values that the reporters turn into JSON, tables and, later, JUnit.
#pragma once

#include <string>
#include <vector>

#include "rig/console_parser.h"

namespace rig {

struct StepResult {
  int index = 0;
  std::string action;    // "plug", "unplug", ...
  std::string target;    // DIMM id or "node1"
  std::string expected;  // what the scenario asked for
  std::string outcome;   // what happened: "removed", "refused", "timeout", "added", "online", ...
  bool ok = false;
  std::string detail;
  double duration_s = 0;
};

enum class Verdict { Pass, Fail, Error, Skip };
const char* verdict_name(Verdict v);

struct ScenarioResult {
  std::string scenario;
  std::string scenario_path;
  std::string kernel;       // release string
  std::string kernel_name;  // as given on the command line
  std::string kernel_path;
  Verdict verdict = Verdict::Error;
  std::string reason;       // one line: why it is not a pass
  double duration_s = 0;
  double boot_s = 0;
  std::string accel;
  std::string cpu;
  std::vector<int> cases;
  std::vector<StepResult> steps;
  std::vector<ConsoleFinding> console_findings;
  std::string artifacts;
};

}  // namespace rig
