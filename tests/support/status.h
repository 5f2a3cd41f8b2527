// EXPECT_OK / ASSERT_OK: a Status must be success; on failure the test prints its code and
// message. Both accept `<< "more context"` like any GoogleTest assertion.
#pragma once

#include <gtest/gtest.h>

#include "etp/status.h"

namespace etp::test {

inline ::testing::AssertionResult is_ok(const Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.to_string();
}

}  // namespace etp::test

#define EXPECT_OK(expr) EXPECT_TRUE(::etp::test::is_ok(expr))
#define ASSERT_OK(expr) ASSERT_TRUE(::etp::test::is_ok(expr))
