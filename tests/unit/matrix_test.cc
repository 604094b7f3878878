// The matrix runner: plan, shards, repeats, flaky, scheduling budget.
#include <gtest/gtest.h>
