// The libvirt backend's pure parts, on the event sequences libvirt 9.0 and QEMU 7.2 produced on
// this machine (docs/libvirt.md): what an eject's events mean, and DIMM ids behind aliases.
#include "rig/machine/libvirt/libvirt_machine.h"

#include <gtest/gtest.h>

using namespace rig;

namespace {

QmpEvent ost(const std::string& device, int source, int status) {
  return QmpEvent{
      "ACPI_DEVICE_OST",
      {{"info", {{"device", device}, {"slot", "0"}, {"slot-type", "DIMM"}, {"source", source}, {"status", status}}}},
      0};
}
QmpEvent lv(const char* name, const std::string& device) { return QmpEvent{name, {{"device", device}}, 0}; }

}  // namespace

TEST(UnplugWatch, RemovedWhenLibvirtSaysSo) {
  // Recorded: hotplug-then-unplug on 6.1.
  UnplugWatch w("ua-hot1");
  EXPECT_FALSE(w.feed(ost("ua-hot1", 3, 0x84))) << "eject in progress decides nothing";
  EXPECT_FALSE(w.feed(QmpEvent{"DEVICE_DELETED", {{"device", "ua-hot1"}}, 0}))
      << "libvirt's event comes after its cleanup";
  auto out = w.feed(lv(kLibvirtDeviceRemoved, "ua-hot1"));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->result, UnplugResult::Removed);
  EXPECT_EQ(out->ost_status, 0x84);
}

TEST(UnplugWatch, RefusedByTheGuestsOst) {
  // Recorded: unplug-boot-dimm-busy on 6.1 (the offline failed, _OST 0x82).
  UnplugWatch w("ua-dimm1");
  EXPECT_FALSE(w.feed(ost("ua-dimm1", 3, 0x84)));
  auto out = w.feed(ost("ua-dimm1", 3, 0x82));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->result, UnplugResult::Refused);
  EXPECT_EQ(out->ost_status, 0x82);
  EXPECT_NE(out->detail.find("the guest refused the eject: _OST 0x82"), std::string::npos) << out->detail;
}

TEST(UnplugWatch, RefusedByLibvirtsEventAndOtherDevicesIgnored) {
  UnplugWatch w("ua-hotA");
  EXPECT_FALSE(w.concerns(lv(kLibvirtDeviceRemoved, "ua-hotB")));
  EXPECT_FALSE(w.feed(lv(kLibvirtDeviceRemoved, "ua-hotB")));
  EXPECT_FALSE(w.feed(ost("ua-hotB", 3, 0x82)));
  EXPECT_FALSE(w.concerns(QmpEvent{"RESET", json::object(), 0}));
  EXPECT_FALSE(w.feed(ost("ua-hotA", 3, 0x84)));
  auto out = w.feed(lv(kLibvirtDeviceRemovalFailed, "ua-hotA"));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->result, UnplugResult::Refused);
  EXPECT_NE(out->detail.find("device-removal-failed"), std::string::npos) << out->detail;
}

TEST(UnplugWatch, ATimeoutSaysWhatWasLastHeard) {
  UnplugWatch quiet("ua-d");
  EXPECT_EQ(quiet.timed_out().result, UnplugResult::Timeout);
  EXPECT_NE(quiet.timed_out().detail.find("no answer from the guest"), std::string::npos);
  UnplugWatch started("ua-d");
  started.feed(ost("ua-d", 3, 0x84));
  EXPECT_NE(started.timed_out().detail.find("last _OST 0x84"), std::string::npos) << started.timed_out().detail;
}

TEST(LibvirtMachine, AliasesMapBackToScenarioIds) {
  EXPECT_EQ(dimm_id_of_alias("ua-dimm1"), "dimm1");
  EXPECT_EQ(dimm_id_of_alias("dimm1"), "dimm1") << "a device the rig did not name keeps its id";
}
