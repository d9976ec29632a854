// Compiled once per chapter, with -DCHAPTER_NAME="NN-name" from the Makefile.
#include "kernel/kernel.h"

namespace kernel {

const char kChapterName[] = CHAPTER_NAME;

}  // namespace kernel
