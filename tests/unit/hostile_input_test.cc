// Hostile input: scenario files and probe output that must never crash the rig (filled in by the hostile-input work).
#include <gtest/gtest.h>
