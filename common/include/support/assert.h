// KASSERT: the one assertion for code that runs both in the kernel and in the
// host unit tests (common/mm above all).
#pragma once

// Each side provides this once: the kernel panics with the location (exit code
// 35 under QEMU); the host tests print the location and abort, which gtest's
// death tests observe.
[[noreturn]] void kassert_failed(const char* expression, const char* file, int line);

// Checks an assumption the code relies on. Kept in every build: a tutorial
// kernel that guesses wrong should say so at once, not corrupt memory later.
#define KASSERT(condition) \
    ((condition) ? static_cast<void>(0) : ::kassert_failed("assertion failed: " #condition, __FILE__, __LINE__))
