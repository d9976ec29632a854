#include "kernel/screen_console.h"

#include "arch/x86/cpu.h"
#include "kernel/screen_font.h"
#include "kernel/text_screen.h"

namespace kernel {
namespace {

// CR3's page-table base (SDM Vol. 3A, 4.5): bits 51:12; the low bits are
// flags or a PCID, not part of which tables are loaded.
constexpr uint64_t kCr3TablesMask = 0x000F'FFFF'FFFF'F000ull;

enum class State : uint8_t { kOff, kDrawing };

struct ScreenConsole {
    State state = State::kOff;
    bool busy = false;  // inside write_line: a nested line stays serial only
    uint64_t tables = 0;  // the CR3 under which `screen` points at the framebuffer
    uint64_t next_tables = 0;  // announced by screen_follows_mapping, 0 when none
    uint64_t sharing_tables = 0;  // a process's PML4 with the same kernel half (chapter 12), 0 when none
    uint64_t next_address = 0;
    uint64_t drawn_bytes = 0;  // height x stride x 4: every byte the screen may write
    TextScreen screen;
};

ScreenConsole g_console;  // in .bss: the character grid is 32 KiB

uint64_t loaded_tables() { return x86::read_cr3() & kCr3TablesMask; }

// What a reader sees at a glance: warnings yellow, errors red, debug dim.
uint32_t level_colour(klog::Level level) {
    switch (level) {
        case klog::Level::kDebug: return 0x808080;
        case klog::Level::kInfo: return 0xC0C0C0;
        case klog::Level::kWarn: return 0xFFFF55;
        case klog::Level::kError:
        case klog::Level::kPanic: return 0xFF5555;
    }
    return 0xC0C0C0;
}


volatile uint32_t* pixels_at(uint64_t address) { return reinterpret_cast<volatile uint32_t*>(address); }

enum class Switch : uint8_t { kNone, kFollowed, kLost };

// Called before each line is drawn: the tables in CR3 decide where, if
// anywhere, the framebuffer is.
Switch follow_tables() {
    const uint64_t now = loaded_tables();
    if (now == g_console.tables || (now != 0 && now == g_console.sharing_tables)) return Switch::kNone;
    g_console.tables = now;
    if (now == g_console.next_tables) {
        g_console.screen.move_to(pixels_at(g_console.next_address));
        g_console.next_tables = 0;
        return Switch::kFollowed;
    }
    g_console.state = State::kOff;
    return Switch::kLost;
}

}  // namespace

void start_screen_console(const boot::BootHandoff& handoff) {
    const FramebufferGeometry fb = framebuffer_geometry(handoff);
    if (fb.format == boot::PixelFormat::kBltOnly || fb.format == boot::PixelFormat::kNone) {
        klog::info("screen").msg("serial only").kv("reason", "no linear framebuffer").kv("format", boot::pixel_format_name(fb.format));
        return;
    }
    if (Violation v = check_framebuffer(fb, kScreenFont); !v.ok()) {
        klog::warn("screen").msg("framebuffer refused").kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("rule", v.rule);
        return;
    }
    g_console.tables = loaded_tables();
    g_console.drawn_bytes = uint64_t(fb.height) * fb.stride * 4;  // fits: check_framebuffer compared it with the size
    g_console.screen.start(pixels_at(fb.base), fb, kScreenFont);  // the bootstrap tables identity-map it
    g_console.state = State::kDrawing;
    klog::info("screen").msg("console").kv("base", klog::hex(fb.base)).kv("width", fb.width).kv("height", fb.height)
        .kv("stride", fb.stride).kv("format", boot::pixel_format_name(fb.format)).kv("font", kScreenFont.name)
        .kv("columns", g_console.screen.columns()).kv("rows", g_console.screen.rows());
}

void screen_follows_mapping(uint64_t pml4, uint64_t framebuffer_va, uint64_t mapped_bytes) {
    if (g_console.state != State::kDrawing) return;
    if (g_console.drawn_bytes > mapped_bytes) {
        klog::warn("screen").msg("mapping refused").kv("field", "mapped_bytes").kv("value", klog::hex(mapped_bytes))
            .kv("rule", "must cover height x stride x 4 bytes").kv("needed", klog::hex(g_console.drawn_bytes));
        return;
    }
    g_console.next_tables = pml4 & kCr3TablesMask;
    g_console.next_address = framebuffer_va;
}

void screen_shares_kernel_half(uint64_t pml4) { g_console.sharing_tables = pml4 & kCr3TablesMask; }

void release_screen(const char* to) {
    klog::info("screen").msg("released").kv("to", to);
    g_console.state = State::kOff;
}

void screen_console_write(klog::Level level, const char* text, size_t length) {
    if (g_console.state != State::kDrawing || g_console.busy) return;
    // Busy before following the tables too: an NMI's line in between would
    // otherwise find the new CR3 recorded but the screen still at the old address.
    g_console.busy = true;
    const Switch change = follow_tables();
    if (change != Switch::kLost) {
        g_console.screen.write_line(text, length, level_colour(level));
        asm volatile("sfence" ::: "memory");  // drain write-combining buffers: the line is on screen now
    }
    g_console.busy = false;
    // After the line that found the switch, so the screen shows the lines in the log's order.
    if (change == Switch::kFollowed)
        klog::info("screen").msg("moved").kv("va", klog::hex(g_console.next_address)).kv("cr3", klog::hex(g_console.tables));
    else if (change == Switch::kLost)
        klog::info("screen").msg("serial only").kv("reason", "the new page tables do not map the framebuffer")
            .kv("cr3", klog::hex(g_console.tables));
}

}  // namespace kernel
