#include "mm/kernel/process_memory.h"

namespace mm {
namespace {

ProcessMemory* g_memory = nullptr;

}  // namespace

ProcessMemory* current_memory() { return g_memory; }
void set_current_memory(ProcessMemory* memory) { g_memory = memory; }

}  // namespace mm
