// Port I/O: the only way to reach the 16550 UART and QEMU's debug-exit device.
#pragma once

#include <stdint.h>

namespace x86 {

inline void outb(uint16_t port, uint8_t value) { asm volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }

inline uint8_t inb(uint16_t port) {
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

}  // namespace x86
