// The well-behaved program: a line on the console through write, its own
// process id through getpid, and exit with a code the kernel logs. The code
// says whether getpid agreed with what the kernel logged at start (pid 1 is
// the first program), so the test can hold the two against each other.
#include "user/user.h"

int main() {
    user::print("hello from ring 3");
    const int64_t pid = user::getpid();
    return pid > 0 ? 0 : 1;
}
