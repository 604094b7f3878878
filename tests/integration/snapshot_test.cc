// Snapshots: a restored guest gives the same verdicts and accounting as a booted one.
#include <gtest/gtest.h>
