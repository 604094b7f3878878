#include "rig/machine/qmp/guest_agent.h"

#include <fmt/format.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/timeouts.h"

namespace rig {

std::string base64_decode(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    size_t v = chars.find(c);
    if (v == std::string::npos) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

bool GuestAgent::is_sync_answer(const json& ret) {
  if (!ret.is_number_integer()) return false;
  return unanswered_syncs_.erase(ret.get<int64_t>()) > 0;
}

bool GuestAgent::sync(Deadline deadline) {
  if (sync_id_ == 0) {
    // Ids must differ from any that an earlier rig left unanswered in the channel.
    sync_id_ = static_cast<int64_t>(std::random_device{}() & 0x3fffffff) * 1000;
  }
  // An agent that is not running yet reads our requests when it starts, and answers all of
  // them: resend at most every few seconds, and call it in sync only at the answer to the newest.
  const Clock::duration kResend = as_duration(default_timeouts().agent_resend);
  while (Clock::now() < deadline) {
    if (unanswered_syncs_.empty() || Clock::now() - last_sync_sent_ >= kResend) {
      ++sync_id_;
      unanswered_syncs_.insert(sync_id_);
      last_sync_sent_ = Clock::now();
      channel_.send({{"execute", "guest-sync-delimited"}, {"arguments", {{"id", sync_id_}}}});
    }
    auto msg = channel_.read(std::min(deadline, last_sync_sent_ + kResend));
    if (!msg || !msg->contains("return")) continue;
    const json& ret = (*msg)["return"];
    if (ret == json(sync_id_)) {
      unanswered_syncs_.clear();  // older requests were read first, so their answers came before
      return true;
    }
    is_sync_answer(ret);
  }
  return false;
}

json GuestAgent::call(const std::string& command, const json& args, Deadline deadline) {
  json msg = {{"execute", command}};
  if (!args.is_null()) msg["arguments"] = args;
  channel_.send(msg);
  // The agent answers in order and has no ids: the next reply is ours, unless it is a late
  // answer to a sync request.
  while (true) {
    auto in = channel_.read(deadline);
    if (!in) throw InfraError(fmt::format("qga: no reply to '{}' in time", command));
    if (in->contains("error")) {
      const auto& e = (*in)["error"];
      throw InfraError(fmt::format("qga: {}: {}: {}", command, e.value("class", ""), e.value("desc", "")));
    }
    if (in->contains("return")) {
      if (is_sync_answer((*in)["return"])) continue;
      return (*in)["return"];
    }
  }
}

GuestExecResult agent_exec(const AgentCall& call, const std::string& script, Deadline deadline) {
  json r = call("guest-exec", {{"path", "/bin/sh"}, {"arg", {"-c", script}}, {"capture-output", true}}, deadline);
  const int64_t pid = r.value("pid", -1);
  if (pid < 0) throw InfraError("qga: guest-exec returned no pid");
  double pause = default_timeouts().agent_exec_poll;
  while (true) {
    json st = call("guest-exec-status", {{"pid", pid}}, deadline);
    if (st.value("exited", false)) {
      GuestExecResult res;
      res.exit_code = st.value("exitcode", st.contains("signal") ? 128 + st.value("signal", 0) : -1);
      res.out = base64_decode(st.value("out-data", ""));
      res.err = base64_decode(st.value("err-data", ""));
      return res;
    }
    if (Clock::now() >= deadline) throw InfraError(fmt::format("qga: command did not finish in time: {}", script));
    pause_for(pause);
    pause = std::min(pause * 2, default_timeouts().agent_exec_poll_max);
  }
}

std::string agent_read_file(const AgentCall& call, const std::string& path, Deadline deadline) {
  json handle = call("guest-file-open", {{"path", path}, {"mode", "r"}}, deadline);
  std::string content;
  while (true) {
    json chunk = call("guest-file-read", {{"handle", handle}, {"count", 65536}}, deadline);
    content += base64_decode(chunk.value("buf-b64", ""));
    if (chunk.value("eof", true) || chunk.value("count", 0) == 0) break;
  }
  call("guest-file-close", {{"handle", handle}}, deadline);
  return content;
}

GuestExecResult GuestAgent::exec(const std::string& script, Deadline deadline) {
  return agent_exec([this](const std::string& c, const json& a, Deadline d) { return call(c, a, d); }, script,
                    deadline);
}

std::string GuestAgent::read_file(const std::string& path, Deadline deadline) {
  return agent_read_file([this](const std::string& c, const json& a, Deadline d) { return call(c, a, d); }, path,
                         deadline);
}

}  // namespace rig
