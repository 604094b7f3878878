#include "rig/machine/qmp/json_line_channel.h"

#include <fmt/format.h>
#include <poll.h>

#include <thread>

#include "rig/base/asio.h"
#include "rig/base/clock.h"
#include "rig/base/errors.h"
#include "rig/base/timeouts.h"

namespace rig {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

struct JsonLineChannel::Impl {
  asio::io_context io;
  local::socket socket{io};
};

JsonLineChannel::JsonLineChannel(std::string label, std::ostream* transcript)
    : impl_(std::make_unique<Impl>()),
      label_(std::move(label)),
      transcript_(transcript),
      last_activity_(Clock::now()),
      opened_(Clock::now()) {}

JsonLineChannel::~JsonLineChannel() { close(); }

bool JsonLineChannel::connect(const std::string& path, Deadline deadline) {
  while (true) {
    boost::system::error_code ec;
    impl_->socket.close(ec);
    impl_->socket.connect(local::endpoint(path), ec);
    if (!ec) {
      last_activity_ = Clock::now();
      log("==", "connected " + path);
      return true;
    }
    if (Clock::now() >= deadline) return false;
    pause_for(default_timeouts().fast_poll);
  }
}

bool JsonLineChannel::connected() const { return impl_->socket.is_open(); }

void JsonLineChannel::close() {
  boost::system::error_code ec;
  if (impl_ && impl_->socket.is_open()) {
    impl_->socket.shutdown(local::socket::shutdown_both, ec);
    impl_->socket.close(ec);
  }
}

void JsonLineChannel::log(const char* dir, const std::string& text) {
  if (!transcript_) return;
  double t = std::chrono::duration<double>(Clock::now() - opened_).count();
  (*transcript_) << fmt::format("{:9.3f} {} {} {}\n", t, label_, dir, text);
  transcript_->flush();
}

void JsonLineChannel::send(const nlohmann::json& msg) {
  if (!connected()) throw InfraError(fmt::format("{}: not connected", label_));
  std::string line = msg.dump() + "\n";
  boost::system::error_code ec;
  asio::write(impl_->socket, asio::buffer(line), ec);
  if (ec) throw InfraError(fmt::format("{}: write failed: {}", label_, ec.message()));
  log("->", msg.dump());
}

std::optional<nlohmann::json> JsonLineChannel::read(Deadline deadline) {
  while (true) {
    while (auto line = lines_.pop()) {
      auto parsed = nlohmann::json::parse(*line, nullptr, false);
      if (parsed.is_discarded()) {
        log("<-?", *line);
        continue;
      }
      log("<-", *line);
      return parsed;
    }
    if (!connected()) throw InfraError(fmt::format("{}: not connected", label_));
    // poll() for readiness, then a plain read: simpler than cancelling asynchronous reads and
    // gives every wait a hard deadline.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{impl_->socket.native_handle(), POLLIN, 0};
    const auto slice =
        std::chrono::duration_cast<std::chrono::milliseconds>(as_duration(default_timeouts().channel_poll_slice))
            .count();
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, slice)));
    if (r < 0 && errno != EINTR) throw InfraError(fmt::format("{}: poll failed", label_));
    if (r <= 0) continue;
    char buf[65536];
    boost::system::error_code ec;
    size_t n = impl_->socket.read_some(asio::buffer(buf), ec);
    if (ec) {
      close();
      throw InfraError(fmt::format("{}: connection closed ({})", label_, ec.message()));
    }
    last_activity_ = Clock::now();
    lines_.feed(buf, n);
  }
}

}  // namespace rig
