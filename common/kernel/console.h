// The kernel console: klog lines go to COM1.
#pragma once

namespace kernel {

void console_init();

}  // namespace kernel
