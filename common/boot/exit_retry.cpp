#include "boot/exit_retry.h"

namespace boot {

const char* exit_outcome_name(ExitOutcome outcome) {
    switch (outcome) {
        case ExitOutcome::kExited: return "exited";
        case ExitOutcome::kMapFailed: return "get-memory-map-failed";
        case ExitOutcome::kMapKeptGrowing: return "map-kept-growing";
        case ExitOutcome::kNoMemoryForMap: return "no-memory-for-map";
        case ExitOutcome::kExitFailed: return "exit-boot-services-failed";
        case ExitOutcome::kKeyKeptStale: return "map-key-kept-stale";
    }
    return "unknown";
}

// book:begin exit-boot-services
ExitResult exit_with_final_map(ExitServices& firmware, const MapBuffer& initial) {
    ExitResult r{ExitOutcome::kKeyKeptStale, kStatusSuccess, initial, {}, 0, 0};
    while (r.attempts < kMaxExitAttempts) {
        // From here to ExitBootServices: no allocation, no firmware console,
        // nothing that could change the map we are about to hand over.
        r.map = firmware.get_memory_map(r.buffer);
        r.status = r.map.status;
        if (r.map.status == kStatusBufferTooSmall) {
            // The map grew past the slack (a firmware event allocated, or a
            // failed exit changed it): a larger buffer, then read it again.
            if (r.growths == kMaxMapGrowths) return r.outcome = ExitOutcome::kMapKeptGrowing, r;
            MapBuffer larger{};
            if (!firmware.allocate_map_buffer(r.map.size + kSlackDescriptors * r.map.descriptor_size, &larger))
                return r.outcome = ExitOutcome::kNoMemoryForMap, r;
            firmware.free_map_buffer(r.buffer);
            r.buffer = larger;
            ++r.growths;
            continue;
        }
        if (r.map.status != kStatusSuccess) return r.outcome = ExitOutcome::kMapFailed, r;
        ++r.attempts;
        r.status = firmware.exit_boot_services(r.map.key);
        if (r.status == kStatusSuccess) return r.outcome = ExitOutcome::kExited, r;
        if (r.status != kStatusInvalidParameter) return r.outcome = ExitOutcome::kExitFailed, r;
        // kStatusInvalidParameter: the map key went stale. Read again, retry.
    }
    return r;
}
// book:end exit-boot-services

}  // namespace boot
