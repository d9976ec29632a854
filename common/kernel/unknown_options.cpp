#include "kernel/unknown_options.h"

#include "kernel/kernel.h"
#include "support/log.h"

namespace kernel {

namespace {

bool is_known(Str name) {
    if (name.starts_with("loader.")) return true;
    for (size_t i = 0; i < kKnownOptionCount; ++i)
        if (name == Str(kKnownOptions[i])) return true;
    return false;
}

}  // namespace

void warn_unknown_options(CommandLine line) {
    line.for_each_name([](Str name) {
        if (!is_known(name)) klog::warn("cmdline").msg("unknown option").kv("name", name);
    });
}

}  // namespace kernel
