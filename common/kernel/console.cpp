#include "kernel/console.h"

#include "arch/x86/uart16550.h"
#include "support/log.h"

namespace kernel {
namespace {

constexpr x86::Uart16550 kSerial(x86::kCom1);

void serial_sink(klog::Level, const char* text, size_t length) { kSerial.write(text, length); }

}  // namespace

void console_init() {
    kSerial.init();
    klog::set_sink(serial_sink);
}

}  // namespace kernel
