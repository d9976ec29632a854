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

    // Terminals want CR LF; the log is written with LF only.
    void write(const char* text, size_t length) const {
        // With FIFOs on, "transmitter empty" means the whole transmit FIFO is
        // empty, so one status read makes room for kFifoDepth bytes: under
        // QEMU's TCG every port access is a trip out of translated code, and
        // this halves them. A UART whose FIFOs did not turn on (an 8250 or
        // 16450) takes one byte per status read.
        const int batch = fifo_enabled() ? kFifoDepth : 1;
        int room = 0;
        auto push = [&](char c) {
            if (room == 0) {
                wait_transmit_empty();
                room = batch;
            }
            outb(base_ + kData, uint8_t(c));
            --room;
        };
        for (size_t i = 0; i < length; ++i) {
            if (text[i] == '\n') push('\r');
            push(text[i]);
        }
    }

private:
    // IIR bits 7:6 read 11 once a 16550A's FIFOs are on (init() asks for them).
    bool fifo_enabled() const { return (inb(base_ + kInterruptIdentify) & kFifosOn) == kFifosOn; }

    void wait_transmit_empty() const {
        // Bounded wait: on a machine without a UART the status port reads 0xFF
        // (bit set) and we never spin forever on absent hardware.
        for (int spins = 0; spins < 100000 && !(inb(base_ + kLineStatus) & kTransmitEmpty); ++spins) {
        }
    }

    static constexpr uint16_t kData = 0, kDivisorLow = 0, kInterruptEnable = 1, kDivisorHigh = 1;
    static constexpr uint16_t kFifoControl = 2, kInterruptIdentify = 2, kLineControl = 3, kModemControl = 4,
                              kLineStatus = 5;
    static constexpr uint8_t kDivisorLatch = 0x80, kTransmitEmpty = 0x20, kFifosOn = 0xC0;
    static constexpr int kFifoDepth = 16;

    uint16_t base_;
};

}  // namespace x86
