// Exit codes shared by the loader, the kernel and the test harness.
//
// QEMU's isa-debug-exit device (port 0xf4) turns a write of value V into the
// emulator's own exit status (V << 1) | 1, so these values are chosen to give
// statuses that no ordinary QEMU outcome produces: 33 for success, 35 for failure.
// (QEMU exits 0 when the guest resets under -no-reboot, e.g. after a triple fault,
// and 1 on its own errors.) The Python harness reads the two constants from this
// file, so they are defined exactly once.
#pragma once

#include <stdint.h>

namespace boot {

inline constexpr uint16_t kDebugExitPort = 0xf4;

enum class ExitCode : uint8_t {
    kSuccess = 0x10,  // QEMU exit status 33
    kFailure = 0x11,  // QEMU exit status 35
};

}  // namespace boot
