// Reproducers that judge: generated run.sh rerun for real (filled in by the reproducer work).
#include <gtest/gtest.h>
