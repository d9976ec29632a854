// Hostile: writes its read-only data before ever reading it. The page is not
// there yet (nothing is, before a first touch), so the fault says present=no:
// it is the region's rights, not a page's, that refuse the write.
#include "user/user.h"

static const char kGreeting[] = "constant";

int main() {
    const_cast<volatile char*>(kGreeting)[0] = 'C';
    return 0;
}
