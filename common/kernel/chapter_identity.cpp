// Compiled once per chapter, with -DCHAPTER_NAME="NN-name" from the Makefile
// and the build folder of the chapter on its include path, for the list
// the build generates of the options the chapter reads.
#include "kernel/kernel.h"

namespace kernel {

const char kChapterName[] = CHAPTER_NAME;

const char* const kKnownOptions[] = {
#include "generated/known_options.inc"  // build/NN-name/generated/, from scripts/known_options.py
};
const size_t kKnownOptionCount = sizeof(kKnownOptions) / sizeof(kKnownOptions[0]);

}  // namespace kernel
