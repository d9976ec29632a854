// Naming the command-line words a chapter does not read.
#pragma once

#include "support/command_line.h"

namespace kernel {

// Logs `[WARN  cmdline] unknown option name=…` for every word of `line`
// whose name none of this chapter's sources reads (kKnownOptions): a typo
// (`test.fial=panic`) or another chapter's option would otherwise change
// nothing and say nothing, and the reader would think it had run. The
// loader's own options (`loader.*`) are the loader's and pass. The boot goes
// on: an unknown word is a mistake to point at, not a danger.
void warn_unknown_options(CommandLine line);

}  // namespace kernel
