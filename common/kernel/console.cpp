#include "kernel/console.h"

#include "arch/x86/uart16550.h"
#include "kernel/screen_console.h"
#include "support/log.h"

namespace kernel {
namespace {

constexpr x86::Uart16550 kSerial(x86::kCom1);

// Serial first: it works from the first line to the last, whatever the screen does.
void console_sink(klog::Level level, const char* text, size_t length) {
    kSerial.write(text, length);
    screen_console_write(level, text, length);
}

}  // namespace

void console_init() {
    kSerial.init();
    klog::set_sink(console_sink);
}

}  // namespace kernel
