// Hostile: reads an address no region holds, far from anything mapped.
#include "user/user.h"

int main() {
    volatile const uint64_t* nowhere = reinterpret_cast<const uint64_t*>(0x2000'0000'0000ull);
    return int(*nowhere);
}
