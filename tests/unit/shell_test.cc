// Generated shell: the one quoting function (base/shell.h) round-trips every byte through real
// shells, and a reproducer's run.sh built from hostile scenario fields and a hostile kernel
// release runs no command of theirs and hands each byte to QEMU and to its steps as it is.
#include "rig/base/shell.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "test_data.h"

#include "rig/base/errors.h"
#include "rig/base/atomic_file.h"
#include "rig/machine/qemu/qemu_args.h"
#include "rig/machine/qemu/qemu_machine.h"
#include "rig/run/reproducer.h"
#include "rig/scenario/scenario_file.h"

using namespace rig;

namespace {

using Scratch = rig_test::ScratchDir;

std::string put_file(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string run(const std::string& cmd, int* status = nullptr) { return rig_test::run_shell(cmd, status); }

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// NUL-separated words (what the printing stubs below write) -> the words.
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t nul; (nul = text.find('\0', at)) != std::string::npos; at = nul + 1)
    out.push_back(text.substr(at, nul - at));
  return out;
}

// Every byte 1..255, each several times, around quotes and newlines.
std::string every_byte() {
  std::string s;
  for (int c = 1; c < 256; ++c) s += static_cast<char>(c);
  return s + "'\n'\"$(x)`y`\\'";
}

}  // namespace

TEST(ShellQuote, WrapsInSingleQuotes) {
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$here"), "'$here'");
  EXPECT_EQ(shell_quote("a\nb"), "'a\nb'");
}

TEST(ShellQuote, ANulByteIsRefused) {
  EXPECT_THROW(shell_quote(std::string("a\0b", 3)), UsageError);
  EXPECT_THROW(shell_join({"x", std::string("\0", 1)}), UsageError);
}

TEST(ShellQuote, EveryByteRoundTripsThroughSh) {
  // Random words of bytes 1..255, and one of every byte: each printed back by sh and bash exactly.
  Scratch dir;
  ASSERT_FALSE(dir.path.empty());
  std::mt19937 rng(20261203);
  std::uniform_int_distribution<int> byte(1, 255), len(0, 40);
  std::vector<std::string> cases = {every_byte(), "", "'", "''", "\\", "\n", "$here", "x=\"$(touch PWNED)\""};
  for (int i = 0; i < 200; ++i) {
    std::string w;
    for (int n = len(rng); n > 0; --n) w += static_cast<char>(byte(rng));
    cases.push_back(w);
  }
  std::string script = "cd " + shell_quote(dir.path) + " || exit 9\n";
  std::string want;
  for (const auto& w : cases) {
    script += "printf '%s\\0' " + shell_quote(w) + "\n";
    want += w + std::string(1, '\0');
  }
  const std::string file = put_file(dir.path + "/quote.sh", script);
  for (const char* sh : {"sh", "bash", "dash"}) {
    int st = -1;
    const std::string out = run(std::string(sh) + " " + shell_quote(file), &st);
    EXPECT_EQ(st, 0) << sh;
    EXPECT_TRUE(out == want) << sh << ": a byte did not survive";
  }
  EXPECT_FALSE(exists(dir.path + "/PWNED"));
}

TEST(ShellJoin, IsOneCommandOfExactlyItsWords) {
  EXPECT_EQ(shell_join({"qemu", "-append", "a b", "it's"}), "qemu -append 'a b' 'it'\\''s'");
  // '=' is bare in an argument, but a first word A=B would be an assignment.
  EXPECT_EQ(shell_join({"a=b", "c=d"}), "'a=b' c=d");
  EXPECT_EQ(shell_join({"x", ""}), "x ''");
  EXPECT_EQ(shell_join({"~", "*", "a;b", "$x"}), "'~' '*' 'a;b' '$x'");
  Scratch dir;
  const std::vector<std::string> argv = {"printf", "%s\\0", every_byte(), "a=$(touch PWNED)", "", "-n", "*"};
  std::string want;
  for (size_t i = 2; i < argv.size(); ++i) want += argv[i] + std::string(1, '\0');
  int st = -1;
  const std::string file =
      put_file(dir.path + "/join.sh", "cd " + shell_quote(dir.path) + "\n" + shell_join(argv) + "\n");
  EXPECT_TRUE(run("sh " + shell_quote(file), &st) == want);
  EXPECT_EQ(st, 0);
  EXPECT_FALSE(exists(dir.path + "/PWNED"));
}

// shell_split reads back what shell_join wrote, byte for byte, and what a person types.
TEST(ShellSplit, ReadsBackWhatShellJoinWrote) {
  const std::vector<std::string> argv = {"qemu", "-append", "a b", "it's", "", every_byte(), "$(x)", "a\nb"};
  const auto back = shell_split(shell_join(argv));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, argv);
  EXPECT_EQ(*shell_split(R"(a\ b "c \"d\" \\" 'e''f'  g)"), (std::vector<std::string>{"a b", "c \"d\" \\", "ef", "g"}));
  EXPECT_FALSE(shell_split("a 'b").has_value()) << "an unterminated quote is no command";
  EXPECT_FALSE(shell_split("a \"b").has_value());
}

namespace {

// A scenario whose every field that reaches run.sh is hostile. (Scenario files refuse most of
// these, scenario_file.cc; run.sh must be safe whatever Scenario it is given.)
Scenario hostile_scenario(const std::string& pwned) {
  Scenario s = load_scenario_file(RIG_SOURCE_DIR "/rig/scenarios/hotplug-memmap-dependency.toml");
  const std::string touch = "touch " + pwned;
  s.name = "x';" + touch + ";'\n" + touch + "\n#";
  s.machine.cpu = "qemu64$(" + touch + ")";
  s.machine.kernel_args = {"$here", "x=\"$(" + touch + ")\"",   "`" + touch + "`", "'", "a\nb;" + touch,
                           "\\",    "${QEMU:-$(" + touch + ")}"};
  for (auto& n : s.nodes)
    if (!n.cpus.empty()) n.cpus = "0-1;" + touch + "\n";
  for (auto& d : s.dimms) {
    const std::string id = d.id + "'$(" + touch + ")\"`" + touch + "`\n";
    for (auto& st : s.steps)
      if (st.dimm == d.id) st.dimm = id;
    d.id = id;
  }
  return s;
}

}  // namespace

TEST(ReproducerShell, HostileScenarioFieldsReachQemuByteForByteAndRunNothing) {
  Scratch dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string pwned = dir.path + "/PWNED";
  const Scenario s = hostile_scenario(pwned);
  const std::string release = "6.1.0\ntouch " + pwned + "\n";  // refused by kernel_locator; quoted anyway
  const std::string sh = reproducer_script(s, release);
  const std::string script = put_file(dir.path + "/run.sh", sh, 0755);
  int st = -1;
  EXPECT_EQ(run("sh -n " + shell_quote(script) + " 2>&1", &st), "");
  EXPECT_EQ(st, 0);

  // --interactive execs QEMU with the command line: a fake QEMU writes down the words it got.
  put_file(dir.path + "/fake-qemu", "#!/bin/sh\nprintf '%s\\0' \"$@\" > \"$(dirname \"$0\")/args\"\n", 0755);
  const std::string out =
      run("cd / && QEMU=" + shell_quote(dir.path + "/fake-qemu") + " sh " + shell_quote(script) + " --interactive 2>&1",
          &st);
  EXPECT_EQ(st, 0) << out;
  QemuLaunchSpec spec;
  spec.kernel = "bzImage";
  spec.initrd = "initramfs.cpio.gz";
  spec.qmp_socket = "qmp.sock";
  spec.qga_socket = "qga.sock";
  spec.serial = "mon:stdio";
  spec.paused = false;
  spec.accel = "tcg";
  spec.extra_kernel_args = rig_kernel_args();
  spec.extra_kernel_args.push_back("rig.shell=1");
  std::vector<std::string> want = qemu_argv(s, spec);
  want.erase(want.begin());
  EXPECT_EQ(words(read(dir.path + "/args")), want);
  EXPECT_FALSE(exists(pwned)) << "run.sh ran a command a scenario field carried";

  // The steps: each do_* function replaced by one that writes down its words, then run_steps.
  const size_t a = sh.find("\nrun_steps() {\n");
  ASSERT_NE(a, std::string::npos);
  const size_t b = sh.find("\n}\n", a);
  std::string stubs = "cd " + shell_quote(dir.path) + " || exit 9\n";
  for (const char* f : {"show", "do_plug", "do_online", "do_unplug", "do_expect_node", "do_expect_dimm", "at_step"})
    stubs += std::string(f) + "() { printf '%s\\0' " + f + " \"$@\" >> steps; }\n";
  const std::string steps_sh =
      put_file(dir.path + "/steps.sh", stubs + sh.substr(a + 1, b + 3 - a - 1) + "run_steps\n");
  run("sh " + shell_quote(steps_sh), &st);
  EXPECT_EQ(st, 0);
  const std::vector<std::string> got = words(read(dir.path + "/steps"));
  const Dimm& hot = s.dimms[0];
  bool plugged = false;
  for (size_t i = 0; i + 5 < got.size(); ++i)
    if (got[i] == "do_plug" && got[i + 2] == s.dimms[0].id) {
      plugged = true;
      EXPECT_EQ(got[i + 3], memory_backend_object_args(hot).dump());
      EXPECT_EQ(got[i + 4], dimm_device_args(hot).dump());
    }
  EXPECT_TRUE(plugged) << "do_plug got the DIMM id byte for byte";
  EXPECT_NE(std::find(got.begin(), got.end(), "unplug " + hot.id), got.end());
  EXPECT_FALSE(exists(pwned)) << "a step line ran a command a scenario field carried";
}

TEST(ReproducerShell, ShellcheckPassesTheLibraryAndAGeneratedScript) {
  int st = -1;
  run("command -v shellcheck >/dev/null 2>&1", &st);
  ASSERT_EQ(st, 0) << "shellcheck is missing (setup.sh installs it)";
  Scratch dir;
  std::string out = run("shellcheck -s sh " RIG_SOURCE_DIR "/rig/repro/lib.sh 2>&1", &st);
  EXPECT_EQ(st, 0) << out;
  for (const char* name :
       {"hotplug-memmap-dependency", "unplug-boot-dimm-busy", "hotplug-cycles", "virtio-mem-grow-shrink"}) {
    const Scenario s = load_scenario_file(std::string(RIG_SOURCE_DIR "/rig/scenarios/") + name + ".toml");
    const std::string script = put_file(dir.path + "/run.sh", reproducer_script(s, "6.1.0-56-amd64"), 0755);
    out = run("shellcheck " + shell_quote(script) + " 2>&1", &st);
    EXPECT_EQ(st, 0) << name << ":\n" << out;
  }
  const std::string hostile =
      put_file(dir.path + "/hostile.sh", reproducer_script(hostile_scenario("/x"), "6.1\n$(x)"));
  out = run("shellcheck " + shell_quote(hostile) + " 2>&1", &st);
  EXPECT_EQ(st, 0) << out;
}

TEST(ReproducerShell, TheLibraryIsTheFileInTheTree) {
  // run.sh carries rig/repro/lib.sh as it is (embedded at build time).
  const std::string lib = read(RIG_SOURCE_DIR "/rig/repro/lib.sh");
  ASSERT_FALSE(lib.empty());
  const Scenario s = load_scenario_file(RIG_SOURCE_DIR "/rig/scenarios/hotplug-cycles.toml");
  EXPECT_NE(reproducer_script(s, "6.1.0-56-amd64").find(lib), std::string::npos);
}

namespace {

dev_t device_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_dev : 0;
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  std::istringstream in(run("ls -A " + shell_quote(dir)));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST(FileCopy, ReproducerOntoAnotherFilesystem) {
  // rig repro -o on a tmpfs: rename(2) and copy_file_range(2) between filesystems fail with
  // EXDEV; the reproducer is copied whole all the same.
  Scratch src;
  char tmpl[] = "/dev/shm/rig-repro-o-XXXXXX";
  const char* shm = ::mkdtemp(tmpl);
  if (!shm || device_of("/dev/shm") == device_of(src.path)) GTEST_SKIP() << "no tmpfs apart from /tmp";
  const std::string out = std::string(shm) + "/repro";
  const std::string kernel = put_file(src.path + "/vmlinuz", std::string(3 << 20, 'k'), 0600);
  const std::string initrd = put_file(src.path + "/initrd", "initramfs", 0644);
  KernelImage k;
  k.path = kernel;
  k.release = "6.1.0-56-amd64";
  const Scenario s = load_scenario_file(RIG_SOURCE_DIR "/rig/scenarios/hotplug-cycles.toml");
  EXPECT_EQ(write_reproducer(s, k, initrd, out, nullptr), out);
  EXPECT_EQ(read(out + "/bzImage"), read(kernel));
  EXPECT_EQ(read(out + "/initramfs.cpio.gz"), "initramfs");
  struct stat st {};
  ASSERT_EQ(::stat((out + "/bzImage").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the kernel keeps its mode";
  ASSERT_EQ(::stat((out + "/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  const std::vector<std::string> want = {"README.md", "bzImage", "expect", "initramfs.cpio.gz", "run.sh"};
  EXPECT_EQ(names_in(out), want) << "no temporary file left";
  (void)std::system(("rm -rf " + shell_quote(shm)).c_str());
}

TEST(FileCopy, AFailedCopyLeavesNothingBehind) {
  Scratch dir;
  const std::string to = dir.path + "/bzImage";
  // A source that cannot be read whole (a directory), one that is missing.
  EXPECT_THROW(copy_file_atomically(dir.path, to), InfraError);
  EXPECT_THROW(copy_file_atomically(dir.path + "/missing", to), InfraError);
  EXPECT_TRUE(names_in(dir.path).empty());
  // The old file stays whole when the new one cannot be written.
  put_file(to, "old");
  EXPECT_THROW(copy_file_atomically("/proc/self/mem", to), InfraError);
  EXPECT_EQ(read(to), "old");
  EXPECT_EQ(names_in(dir.path), std::vector<std::string>{"bzImage"});
  // A target directory that does not exist.
  EXPECT_THROW(write_file_atomically(dir.path + "/no/such/run.sh", "x"), InfraError);
}

TEST(FileCopy, APlantedSymlinkIsReplacedNotFollowed) {
  Scratch dir;
  const std::string victim = put_file(dir.path + "/victim", "precious", 0600);
  const std::string kernel = put_file(dir.path + "/vmlinuz", "kernel", 0600);
  // At the target's name and at the fixed temporary names a copy might have used.
  for (const char* name : {"/bzImage", "/bzImage.tmp", "/.bzImage.tmp"})
    ASSERT_EQ(::symlink(victim.c_str(), (dir.path + name).c_str()), 0);
  copy_file_atomically(kernel, dir.path + "/bzImage");
  EXPECT_EQ(read(victim), "precious");
  struct stat st {};
  ASSERT_EQ(::lstat((dir.path + "/bzImage").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(read(dir.path + "/bzImage"), "kernel");
}

TEST(FileCopy, AFifoAsTheSourceIsRefusedWithoutWaiting) {
  Scratch dir;
  const std::string fifo = dir.path + "/vmlinuz";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      copy_file_atomically(fifo, dir.path + "/bzImage");
    } catch (const InfraError&) {
      ::_exit(0);
    }
    ::_exit(1);
  }
  int status = -1;
  for (int i = 0; i < 100 && ::waitpid(child, &status, WNOHANG) == 0; ++i) ::usleep(50000);
  if (::waitpid(child, &status, WNOHANG) == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << "copying from a FIFO waited for a writer";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "refused with InfraError";
}

// The rig's boot rule in run.sh: a boot that multi-threaded TCG broke before /init (here a fake
// QEMU that prints an Oops and exits) is booted once more, the first console kept as
// boot1-output.log; a kernel report after /init is the evidence and is not booted again, nor is a
// QEMU that ended without a kernel report.
TEST(ReproducerShell, ABootBrokenBeforeInitIsBootedOnceMoreAndOneAfterInitIsNot) {
  const Scenario s = load_scenario_file(std::string(RIG_SOURCE_DIR) + "/rig/scenarios/hotplug-then-unplug.toml");
  for (const std::string mode : {"before", "after", "quiet"}) {
    SCOPED_TRACE(mode);
    Scratch dir;
    ASSERT_FALSE(dir.path.empty());
    const std::string script = put_file(dir.path + "/run.sh", reproducer_script(s, "6.12.0-test"), 0755);
    put_file(dir.path + "/bzImage", "");
    put_file(dir.path + "/initramfs.cpio.gz", "");
    put_file(dir.path + "/expect", reproducer_expect(s, nullptr));
    // Answers QMP's capabilities (the script only reads qmp.out), counts its boots, and prints
    // an Oops before "Run /init" on the first boot of mode "before", after it in mode "after".
    put_file(dir.path + "/fake-qemu",
             "#!/bin/sh\n"
             "printf '{\"return\": {}, \"id\": \"rig-1\"}\\n{\"return\": {}, \"id\": \"rig-2\"}\\n' >> qmp.out\n"
             "n=$(cat boots 2>/dev/null || echo 0); echo $((n + 1)) > boots\n"
             "case $MODE$n in\n"
             "  before0) echo 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI' ;;\n"
             "  quiet0) echo 'qemu-system-x86_64: cannot set up guest memory' ;;\n"
             "  after*) echo 'Run /init as init process'; echo 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI' ;;\n"
             "  *) echo 'Run /init as init process' ;;\n"
             "esac\nexit 1\n",
             0755);
    int st = -1;
    const std::string out = run("cd / && MODE=" + mode + " QUIET=1 BOOT_WAIT=20 CMD_WAIT=10 QUIT_WAIT=5 QEMU=" +
                                    shell_quote(dir.path + "/fake-qemu") + " sh " + shell_quote(script) + " 2>&1",
                                &st);
    if (mode == "before") {
      EXPECT_EQ(read(dir.path + "/boots"), "2\n") << out;
      EXPECT_NE(out.find("booting once more"), std::string::npos) << out;
      EXPECT_NE(read(dir.path + "/boot1-output.log").find("Oops: int3"), std::string::npos);
      EXPECT_EQ(read(dir.path + "/output.log").find("Oops"), std::string::npos) << "the second boot's console";
    } else {  // after /init, or QEMU that ended without a kernel report: not the boot TCG broke
      EXPECT_EQ(read(dir.path + "/boots"), "1\n") << out;
      EXPECT_EQ(out.find("booting once more"), std::string::npos) << out;
      EXPECT_FALSE(exists(dir.path + "/boot1-output.log"));
    }
    if (mode == "after")
      EXPECT_EQ(st, 1) << "a kernel report after /init is the evidence: reproduced\n" << out;
    else
      EXPECT_EQ(st, 2) << "the guest never became ready: could not tell\n" << out;
  }
}

// run.sh's resize (rig/repro/lib.sh do_resize) with a QEMU whose device never moves: it ends
// within its limit as "refused" (an outer wait_until around qmp, which waits itself, never ended),
// and a size QEMU does not answer is "cannot tell", not a refusal.
TEST(ReproducerShell, AResizeThatNeverMovesEndsWithinItsLimitAsRefused) {
  const std::string head =
      "tick=0.2 ticks=5; say() { echo \"$*\"; }; mark_unknown() { echo \"UNKNOWN $*\"; }; qemu_gone() { false; }; "
      "eval \"$(sed -n '/^wait_until()/,/^}/p; /^do_resize()/,/^}/p; /^qom_number()/p' " RIG_SOURCE_DIR
      "/rig/repro/lib.sh)\"; ";
  auto sh = [&](const std::string& body, int* st) {
    return rig_test::run_shell("timeout 20 sh -c " + shell_quote(head + body), st);
  };
  int st = 0;
  std::string out =
      sh("qmp() { reply='{\"return\": 0}'; }; do_resize 0 vm0 get set 536870912 2; "
         "echo \"outcome=$outcome\"",
         &st);
  EXPECT_EQ(st, 0) << out;
  EXPECT_NE(out.find("outcome=refused"), std::string::npos) << out;
  out =
      sh("n=0; qmp() { n=$((n+1)); if [ $n -le 2 ]; then reply='{\"return\": 0}'; return 0; fi; reply=; return 1; }; "
         "do_resize 0 vm0 get set 536870912 2; echo \"rc=$?\"",
         &st);
  EXPECT_NE(out.find("UNKNOWN step 0: qom-get of vm0"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
}

// run.sh's unplug (rig/repro/lib.sh do_unplug) when the guest hits a BUG during the eject and
// never answers it (boot-end-64g5-small-dimm): the kernel report ./expect looks for ends the wait
// at once and the script judges, instead of waiting out the step's limit; a report ./expect only
// watches does not.
TEST(ReproducerShell, AKernelReportDuringAnEjectEndsItsWait) {
  Scratch dir;
  ASSERT_FALSE(dir.path.empty());
  put_file(dir.path + "/output.log",
           "[    4.62] Block size [0x20000000] unaligned hotplug range: start 0x1000000000, size 0x10000000\r\n"
           "[    4.62] kernel BUG at mm/memory_hotplug.c:2075!\r\n");
  put_file(dir.path + "/seen.expect", "console bug kernel BUG at\nwatch oops Oops:\n");
  put_file(dir.path + "/watched.expect", "watch bug kernel BUG at\n");
  const std::string head =
      "cd " + shell_quote(dir.path) +
      " && tick=0.2 ticks=5 log=output.log qmpout=qmp.out; : > qmp.out; say() { echo \"$*\"; }; "
      "mark_unknown() { echo \"UNKNOWN $*\"; }; qemu_gone() { false; }; qmp() { reply='{\"return\": {}}'; }; "
      "events_since() { :; }; ost_status() { :; }; lists() { true; }; size_of() { echo 0; }; "
      "judge() { echo JUDGE; exit 1; }; "
      "eval \"$(sed -n '/^wait_until()/,/^}/p; /^do_unplug()/,/^}/p; /^unplug_settled()/,/^}/p; "
      "/^report_seen()/,/^}/p; /^unplug_or_report()/p; /^console_awk=/,/^}'\"'\"'$/p' " RIG_SOURCE_DIR
      "/rig/repro/lib.sh)\"; ";
  int st = 0;
  const auto started = std::chrono::steady_clock::now();
  std::string out = rig_test::run_shell(
      "timeout 60 sh -c " + shell_quote(head + "exp=seen.expect; do_unplug 0 dimmA del obj 30; echo rc=$?"), &st);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15)) << "not the 30 s limit: " << out;
  EXPECT_NE(out.find("step 0: a kernel report on the console before the eject of dimmA settled"), std::string::npos)
      << out;
  EXPECT_NE(out.find("JUDGE"), std::string::npos) << out;
  out = rig_test::run_shell(
      "timeout 60 sh -c " + shell_quote(head + "exp=watched.expect; do_unplug 0 dimmA del obj 2; echo rc=$?"), &st);
  EXPECT_NE(out.find("neither DEVICE_DELETED nor a failing _OST for dimmA within 2 s"), std::string::npos) << out;
  EXPECT_EQ(out.find("JUDGE"), std::string::npos) << out;
}
