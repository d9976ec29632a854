// The kernel console: klog lines go to COM1 and, once kernel_start has
// started it, to the screen (kernel/screen_console.h).
#pragma once

namespace kernel {

void console_init();

}  // namespace kernel
