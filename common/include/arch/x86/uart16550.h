// A polled 16550 UART driver: the console of the loader and of every kernel.
//
// Polling (no interrupts) keeps it usable from the loader's first line until
// the last line of a panic, whatever state the CPU is in.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/io.h"

namespace x86 {

inline constexpr uint16_t kCom1 = 0x3F8;

class Uart16550 {
public:
    explicit constexpr Uart16550(uint16_t base) : base_(base) {}

    // 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on.
    void init() const {
        outb(base_ + kInterruptEnable, 0x00);
        outb(base_ + kLineControl, kDivisorLatch);
        outb(base_ + kDivisorLow, 1);  // 115200 / 1
        outb(base_ + kDivisorHigh, 0);
        outb(base_ + kLineControl, 0x03);  // 8N1, divisor latch off
        outb(base_ + kFifoControl, 0xC7);  // enable + clear FIFOs, 14-byte threshold
        outb(base_ + kModemControl, 0x03);  // DTR + RTS
    }

    void put(char c) const {
        // Bounded wait: on a machine without a UART the status port reads 0xFF
        // (bit set) and we never spin forever on absent hardware.
        for (int spins = 0; spins < 100000 && !(inb(base_ + kLineStatus) & kTransmitEmpty); ++spins) {
        }
        outb(base_ + kData, uint8_t(c));
    }

    // Terminals want CR LF; the log is written with LF only.
    void write(const char* text, size_t length) const {
        for (size_t i = 0; i < length; ++i) {
            if (text[i] == '\n') put('\r');
            put(text[i]);
        }
    }

private:
    static constexpr uint16_t kData = 0, kDivisorLow = 0, kInterruptEnable = 1, kDivisorHigh = 1;
    static constexpr uint16_t kFifoControl = 2, kLineControl = 3, kModemControl = 4, kLineStatus = 5;
    static constexpr uint8_t kDivisorLatch = 0x80, kTransmitEmpty = 0x20;

    uint16_t base_;
};

}  // namespace x86
