#pragma once

// ETP_TEST_ASAN is 1 in a build with AddressSanitizer, whichever the compiler: GCC defines
// __SANITIZE_ADDRESS__, clang 14 answers only __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define ETP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ETP_TEST_ASAN 1
#endif
#endif
#ifndef ETP_TEST_ASAN
#define ETP_TEST_ASAN 0
#endif
