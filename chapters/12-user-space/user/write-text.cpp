// Hostile: writes its own code. The text segment is mapped R-X: a write to
// it is a page fault on a present, read-only user page.
#include "user/user.h"

extern "C" char _start[];

int main() {
    *reinterpret_cast<volatile char*>(_start) = char(0xC3);  // ret
    return 0;
}
