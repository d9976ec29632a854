// The well-behaved program: a line on the console through write, its own
// process id through getpid, and that id as its exit code, which the kernel
// logs: the test holds what the program received against the pid the kernel
// logged at its start.
#include "user/user.h"

int main() {
    user::print("hello from ring 3");
    return int(user::getpid());
}
