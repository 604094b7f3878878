// QMP framing, reply matching and event queueing against a scripted fake QEMU on a Unix socket.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "rig/base/asio.h"
#include "rig/base/errors.h"
#include "rig/machine/qmp/qmp_client.h"
#include "rig/machine/qmp/qmp_protocol.h"

using namespace rig;
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

// A fake QEMU: sends the greeting, then for each command it reads calls `respond`, which returns
// the raw lines to send back (events and replies, in any order).
class FakeQmpPeer {
 public:
  using Responder = std::function<std::vector<std::string>(const json& cmd)>;

  explicit FakeQmpPeer(Responder respond) : respond_(std::move(respond)) {
    path_ = ::testing::TempDir() + "/fake-qmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
    ::unlink(path_.c_str());
    acceptor_ = std::make_unique<local::acceptor>(io_, local::endpoint(path_));
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeQmpPeer() {
    thread_.join();
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  void serve() {
    local::socket s(io_);
    acceptor_->accept(s);
    asio::write(s, asio::buffer(std::string("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "
                                            "\"major\": 7}}, \"capabilities\": [\"oob\"]}}\r\n")));
    asio::streambuf buf;
    boost::system::error_code ec;
    while (true) {
      asio::read_until(s, buf, '\n', ec);
      if (ec) return;
      std::istream is(&buf);
      std::string line;
      std::getline(is, line);
      json cmd = json::parse(line);
      std::vector<std::string> out;
      if (cmd["execute"] == "qmp_capabilities")
        out = {json({{"return", json::object()}, {"id", cmd["id"]}}).dump()};
      else
        out = respond_(cmd);
      for (auto& l : out) asio::write(s, asio::buffer(l + "\r\n"), ec);
      if (cmd["execute"] == "quit") return;
    }
  }

  static inline int counter_ = 0;
  Responder respond_;
  std::string path_;
  asio::io_context io_;
  std::unique_ptr<local::acceptor> acceptor_;
  std::thread thread_;
};

std::string reply(const json& cmd, const json& ret) { return json({{"return", ret}, {"id", cmd["id"]}}).dump(); }

std::string ost_event(const std::string& dev, int status) {
  return json({{"event", "ACPI_DEVICE_OST"},
               {"data",
                {{"info", {{"device", dev}, {"source", 3}, {"status", status}, {"slot", "0"}, {"slot-type", "DIMM"}}}}},
               {"timestamp", {{"seconds", 1}, {"microseconds", 500000}}}})
      .dump();
}

}  // namespace

TEST(LineBuffer, ReassemblesSplitLinesAndDropsDelimiters) {
  LineBuffer b;
  b.feed("{\"a\":", 5);
  EXPECT_FALSE(b.pop());
  const char rest[] = "1}\r\n\xff{\"b\":2}\n";
  b.feed(rest, sizeof rest - 1);
  EXPECT_EQ(b.pop(), "{\"a\":1}");
  EXPECT_EQ(b.pop(), "{\"b\":2}");
  EXPECT_FALSE(b.pop());
}

TEST(QmpProtocol, ClassifiesMessages) {
  EXPECT_EQ(classify_qmp_message(json::parse(R"({"QMP":{}})")).kind, QmpMessageKind::Greeting);
  auto e = classify_qmp_message(json::parse(ost_event("dimm1", 130)));
  EXPECT_EQ(e.kind, QmpMessageKind::Event);
  EXPECT_EQ(e.event.name, "ACPI_DEVICE_OST");
  EXPECT_DOUBLE_EQ(e.event.timestamp, 1.5);
  auto r =
      classify_qmp_message(json::parse(R"({"error":{"class":"DeviceNotFound","desc":"Device 'x' not found"},"id":4})"));
  EXPECT_EQ(r.kind, QmpMessageKind::Reply);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->error_class, "DeviceNotFound");
  EXPECT_EQ(r.id, json(4));
}

TEST(QmpProtocol, DecodesOstStatus) {
  EXPECT_EQ(ost_status_name(0x82), "device busy");
  EXPECT_EQ(ost_status_name(0x84), "ejection in progress");
  EXPECT_EQ(ost_status_name(0x99), "status 0x99");
  EXPECT_TRUE(ost_status_is_failure(0x82));
  EXPECT_FALSE(ost_status_is_failure(0x84));
  EXPECT_FALSE(ost_status_is_failure(0));
}

TEST(QmpClient, MatchesRepliesByIdAndQueuesInterleavedEvents) {
  FakeQmpPeer peer([](const json& cmd) -> std::vector<std::string> {
    if (cmd["execute"] == "device_del")  // events arrive before and after the reply
      return {ost_event("dimm1", 0x84), R"({"return": {}, "id": 999})", reply(cmd, json::object()),
              ost_event("dimm1", 0x82)};
    if (cmd["execute"] == "query-memory-devices")
      return {reply(
          cmd, json::parse(R"([{"type":"dimm","data":{"id":"dimm1","addr":4294967296,"size":536870912,"node":1}}])"))};
    return {reply(cmd, json::object())};
  });
  QmpClient qmp(nullptr);
  qmp.connect(peer.path(), deadline_in(5));
  QmpReply r = qmp.execute("device_del", {{"id", "dimm1"}}, deadline_in(5));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(qmp.queued().size(), 1u) << "the event before the reply is kept";

  // Wait for the failure status: the in-progress event does not match and must stay queued.
  auto busy =
      qmp.wait_event([](const QmpEvent& e) { return e.name == "ACPI_DEVICE_OST" && e.data["info"]["status"] == 0x82; },
                     deadline_in(5));
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->data["info"]["device"], "dimm1");
  auto in_progress = qmp.wait_event(event_for_device("ACPI_DEVICE_OST", "dimm1"), deadline_in(1));
  ASSERT_TRUE(in_progress);
  EXPECT_EQ(in_progress->data["info"]["status"], 0x84);

  json devs = qmp.execute_ok("query-memory-devices", json::object(), deadline_in(5));
  EXPECT_EQ(devs[0]["data"]["id"], "dimm1");
  qmp.execute("quit", json::object(), deadline_in(5));
}

TEST(QmpClient, SurfacesErrorClassAndText) {
  FakeQmpPeer peer([](const json& cmd) -> std::vector<std::string> {
    if (cmd["execute"] == "device_del")
      return {json({{"error", {{"class", "DeviceNotFound"}, {"desc", "Device 'nope' not found"}}}, {"id", cmd["id"]}})
                  .dump()};
    return {reply(cmd, json::object())};
  });
  QmpClient qmp(nullptr);
  qmp.connect(peer.path(), deadline_in(5));
  QmpReply r = qmp.execute("device_del", {{"id", "nope"}}, deadline_in(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error->error_class, "DeviceNotFound");
  try {
    qmp.execute_ok("device_del", {{"id", "nope"}}, deadline_in(5));
    FAIL() << "no exception";
  } catch (const InfraError& e) {
    EXPECT_STREQ(e.what(), "qmp: device_del: DeviceNotFound: Device 'nope' not found");
  }
  qmp.execute("quit", json::object(), deadline_in(5));
}

TEST(QmpClient, WaitForAnEventThatNeverComesTimesOut) {
  FakeQmpPeer peer([](const json& cmd) -> std::vector<std::string> { return {reply(cmd, json::object())}; });
  QmpClient qmp(nullptr);
  qmp.connect(peer.path(), deadline_in(5));
  auto t0 = Clock::now();
  EXPECT_FALSE(qmp.wait_event(event_named("DEVICE_DELETED"), deadline_in(0.3)));
  EXPECT_LT(seconds_since(t0), 2.0);
  qmp.execute("quit", json::object(), deadline_in(5));
}

TEST(QmpClient, ReplaysARecordedRefusal) {
  // Server lines recorded from a real busy eject on Debian 6.1 (tests/data/qmp), sent in order
  // in answer to the commands the client sends.
  std::ifstream in(std::string(RIG_TEST_DATA) + "/qmp/busy-refusal-6.1.transcript");
  ASSERT_TRUE(in.good());
  std::vector<std::vector<std::string>> answers;
  std::string line;
  bool after_capabilities = false;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string t, who, dir;
    ls >> t >> who >> dir;
    if (who != "qmp") continue;
    std::string payload;
    std::getline(ls, payload);
    if (dir == "->") {
      if (after_capabilities) answers.emplace_back();
      after_capabilities = true;
    } else if (dir == "<-" && !answers.empty()) {
      answers.back().push_back(payload.substr(1));
    }
  }
  ASSERT_GE(answers.size(), 3u);  // cont, device_del, query-memory-devices, ...
  size_t next = 0;
  FakeQmpPeer peer([&](const json& cmd) -> std::vector<std::string> {
    std::vector<std::string> out = next < answers.size() ? answers[next++] : std::vector<std::string>{};
    for (auto& l : out) {  // recorded ids were the client's; renumber to this client's
      json m = json::parse(l);
      if (m.contains("id")) m["id"] = cmd["id"];
      l = m.dump();
    }
    if (cmd["execute"] == "quit") out.push_back(reply(cmd, json::object()));
    return out;
  });
  QmpClient qmp(nullptr);
  qmp.connect(peer.path(), deadline_in(5));
  qmp.execute_ok("cont", json::object(), deadline_in(5));
  qmp.execute_ok("device_del", {{"id", "dimm1"}}, deadline_in(5));
  auto refused = qmp.wait_event(
      [](const QmpEvent& e) {
        return event_for_device("ACPI_DEVICE_OST", "dimm1")(e) &&
               ost_status_is_failure(e.data["info"]["status"].get<int>());
      },
      deadline_in(5));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->data["info"]["status"], kOstDeviceBusy);
  EXPECT_FALSE(qmp.wait_event(event_for_device("DEVICE_DELETED", "dimm1"), deadline_in(0.2)));
  next = answers.size();
  qmp.execute("quit", json::object(), deadline_in(5));
}

TEST(QmpEvents, DeviceMatcherSurvivesMalformedEventData) {
  // An event whose data is not what QEMU documents never matches and never throws.
  auto ost = event_for_device("ACPI_DEVICE_OST", "dimm1");
  auto deleted = event_for_device("DEVICE_DELETED", "dimm1");
  for (const char* data : {"null", "[]", "5", "\"dimm1\"", "{\"info\": 7}", "{\"info\": [1]}",
                           "{\"info\": {\"device\": 3}}", "{\"device\": {\"id\": \"dimm1\"}}", "{\"device\": null}"}) {
    QmpEvent e{"ACPI_DEVICE_OST", json::parse(data), 0};
    EXPECT_FALSE(ost(e)) << data;
    e.name = "DEVICE_DELETED";
    EXPECT_FALSE(deleted(e)) << data;
  }
  EXPECT_TRUE(ost(QmpEvent{"ACPI_DEVICE_OST", json::parse(R"({"info": {"device": "dimm1", "status": 0}})"), 0}));
  EXPECT_TRUE(deleted(QmpEvent{"DEVICE_DELETED", json::parse(R"({"device": "dimm1"})"), 0}));
}
