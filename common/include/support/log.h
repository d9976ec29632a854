// Structured log lines, shared by the loader and every kernel.
//
// Every line has the same machine-readable shape, because tests and the book
// quote them:
//
//   [INFO  mmio] map lapic pa=0xfee00000 size=4KiB flags=P|RW|NX
//    ^^^^^ level, padded to five columns
//          ^^^^ subsystem
//                ^^^^^^^^^ message, then key=value fields
//
// A line is built by a temporary and written when the temporary dies, at the
// end of the full expression:
//
//   klog::info("boot").msg("handoff").kv("size", klog::size(bytes)).kv("pa", klog::hex(pa));
//
// The text goes through one sink function that the loader and the kernel each
// install (both write to COM1; the loader also echoes errors to the screen).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "support/str.h"
#include "support/units.h"

namespace klog {

enum class Level : uint8_t { kDebug, kInfo, kWarn, kError, kPanic };

using Sink = void (*)(Level level, const char* text, size_t length);

inline Sink g_sink = nullptr;
inline Level g_threshold = Level::kInfo;  // lines below this level are dropped

inline void set_sink(Sink sink) { g_sink = sink; }
inline void set_threshold(Level level) { g_threshold = level; }

// Value wrappers that choose how a number is written.
//
// Addresses: mm::PhysAddr and mm::VirtAddr have hex() overloads beside their
// types (mm/phys_addr.h, mm/virt_addr.h; this header sits below mm and cannot
// name them). They print as plain 0x…, not P0x…/V0x…: every field's key
// already says which kind it is (pa=, va=, start=), and one hex spelling keeps
// every field parseable the same way by the tests and the benchmarks.
struct Hex { uint64_t value; };
struct Size { uint64_t bytes; };
inline constexpr Hex hex(uint64_t value) { return {value}; }
inline constexpr Size size(uint64_t bytes) { return {bytes}; }

class Line {
public:
    Line(Level level, const char* subsystem) : level_(level) {
        static constexpr const char* kNames[] = {"DEBUG", "INFO ", "WARN ", "ERROR", "PANIC"};
        put('[');
        put(kNames[unsigned(level)]);
        put(' ');
        put(subsystem);
        put(']');
    }
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;

    ~Line() {
        if (overflowed_) {
            length_ = sizeof(buffer_) - 5;
            put(" ...");
        }
        buffer_[length_++] = '\n';
        if (g_sink && level_ >= g_threshold) g_sink(level_, buffer_, length_);
    }

    // Free text: the event, e.g. "map lapic". Words only, no '=' (that marks a field).
    Line& msg(Str text) {
        put(' ');
        put(text);
        return *this;
    }

    Line& kv(const char* key, Str value) {
        field(key);
        if (needs_quotes(value)) {
            put('"');
            put(value);
            put('"');
        } else {
            put(value);
        }
        return *this;
    }
    Line& kv(const char* key, const char* value) { return kv(key, Str(value)); }
    Line& kv(const char* key, uint64_t value) {
        field(key);
        put_decimal(value);
        return *this;
    }
    Line& kv(const char* key, uint32_t value) { return kv(key, uint64_t(value)); }
    Line& kv(const char* key, int value) {
        field(key);
        if (value < 0) put('-');
        put_decimal(value < 0 ? 0 - uint64_t(int64_t(value)) : uint64_t(value));
        return *this;
    }
    Line& kv(const char* key, bool value) { return kv(key, value ? Str("yes") : Str("no")); }
    Line& kv(const char* key, Hex value) {
        field(key);
        put_hex(value.value);
        return *this;
    }
    // Sizes print exactly, in the largest binary unit that divides them:
    // 4KiB, 2MiB, 1GiB, 1536KiB, 100B. Exact so tests can compare them.
    Line& kv(const char* key, Size value) {
        field(key);
        uint64_t b = value.bytes;
        if (b != 0 && b % GiB == 0) { put_decimal(b / GiB); put("GiB"); }
        else if (b != 0 && b % MiB == 0) { put_decimal(b / MiB); put("MiB"); }
        else if (b != 0 && b % KiB == 0) { put_decimal(b / KiB); put("KiB"); }
        else { put_decimal(b); put('B'); }
        return *this;
    }

    // Spaces up to `column`, so rows of a table line up in a terminal.
    // Parsers split on whitespace, so the padding never changes a field.
    Line& pad(size_t column) {
        while (length_ < column) put(' ');
        return *this;
    }

private:
    static bool needs_quotes(Str s) {
        if (s.empty()) return true;
        for (size_t i = 0; i < s.size(); ++i)
            if (s[i] == ' ' || s[i] == '"' || s[i] == '=' || s[i] < 0x20) return true;
        return false;
    }
    void field(const char* key) {
        put(' ');
        put(key);
        put('=');
    }
    void put(char c) {
        // Keep 1 byte for the newline; printable ASCII only, so a hostile
        // command line cannot forge a log line of its own.
        if (length_ + 1 >= sizeof(buffer_)) { overflowed_ = true; return; }
        buffer_[length_++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    void put(Str text) {
        for (size_t i = 0; i < text.size(); ++i) put(text[i]);
    }
    void put(const char* text) { put(Str(text)); }
    void put_decimal(uint64_t v) {
        char digits[20];
        int n = 0;
        do { digits[n++] = char('0' + v % 10); v /= 10; } while (v);
        while (n) put(digits[--n]);
    }
    void put_hex(uint64_t v) {
        put("0x");
        int shift = 60;
        while (shift > 0 && ((v >> shift) & 0xF) == 0) shift -= 4;
        for (; shift >= 0; shift -= 4) put("0123456789abcdef"[(v >> shift) & 0xF]);
    }

    Level level_;
    bool overflowed_ = false;
    size_t length_ = 0;
    char buffer_[400];
};

inline Line debug(const char* subsystem) { return Line(Level::kDebug, subsystem); }
inline Line info(const char* subsystem) { return Line(Level::kInfo, subsystem); }
inline Line warn(const char* subsystem) { return Line(Level::kWarn, subsystem); }
inline Line error(const char* subsystem) { return Line(Level::kError, subsystem); }

}  // namespace klog
