// Fault injection for chapter 01, beside the story: `test.fail=WHAT` on the
// command line proves, on a real boot, that each way of failing is reported
// and ends with the failure code (tests/test_01_failures.py).
#pragma once

// Does nothing unless the command line asks; otherwise does not return.
void fail_if_requested();
