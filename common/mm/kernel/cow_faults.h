// Copy-on-write faults (chapter 14): a write to a page fork shared.
//
// After fork, every writable page of both processes is read-only and marked
// kCopyOnWrite. A write to one faults with P=1, W=1 — to chapter 13's
// first-touch path a contradiction (a writable region whose page is there
// but read-only), so this hook goes in front of it and takes those faults:
//   - the leaf is copy-on-write and the region writable: resolve_cow_write()
//     copies the frame (another leaf still maps it) or takes it over (the
//     last reference), the page is invalidated, and the write runs again;
//       [INFO  cow] copied pid=… va=0x… from=0x… to=0x…
//       [INFO  cow] taken-over pid=… va=0x… frame=0x…
//     from ring 3, or from the kernel's own copy to a user pointer (wait's
//     status), which must break the sharing exactly as the program's write;
//   - no frame for the copy: the program is killed (rule=out-of-memory);
//   - anything else goes on to chapter 13's first touch, as before.
#pragma once

namespace mm {

// Chains in front of the hook installed before (chapter 13's first touch).
void install_copy_on_write_faults();

}  // namespace mm
