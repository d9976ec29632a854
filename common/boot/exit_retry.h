// The loop that takes the final memory map and exits boot services, apart
// from the firmware it calls, so the host tests can play a firmware whose map
// key goes stale, whose map outgrows the buffer, or whose exit fails.
//
// UEFI 2.10, 7.4 "ExitBootServices()": when the key is stale the loader must
// get the map again and retry; once ExitBootServices has been called, even
// unsuccessfully, the firmware may have shut parts of itself down, and only
// the memory allocation services (GetMemoryMap, AllocatePages, FreePages) may
// still be used. So a map that outgrew its buffer is given a larger one, and a
// failure after the first attempt is reported on COM1 alone (loader_log.h).
#pragma once

#include <stdint.h>

namespace boot {

// The EFI_STATUS values the loop tells apart (UEFI 2.10, Appendix D), as
// plain numbers: this file builds without the firmware's headers.
inline constexpr uint64_t kStatusSuccess = 0;
inline constexpr uint64_t kStatusInvalidParameter = 0x8000'0000'0000'0002ull;
inline constexpr uint64_t kStatusBufferTooSmall = 0x8000'0000'0000'0005ull;

struct MapBuffer {
    uint64_t address;
    uint64_t capacity;  // bytes
};

// What one GetMemoryMap call said. On kStatusBufferTooSmall, `size` is the
// size the map needs now.
struct [[nodiscard]] MapRead {
    uint64_t status;
    uint64_t size;
    uint64_t key;
    uint64_t descriptor_size;
    uint32_t descriptor_version;
};

// The firmware calls the loop makes; BootServicesExit in final_memory_map.cpp
// is the real one.
class ExitServices {
public:
    virtual MapRead get_memory_map(const MapBuffer& buffer) = 0;
    virtual uint64_t exit_boot_services(uint64_t map_key) = 0;
    // A zeroed buffer of at least `bytes`, from memory the map will show as
    // the loader's; false when the firmware has none.
    virtual bool allocate_map_buffer(uint64_t bytes, MapBuffer* buffer) = 0;
    virtual void free_map_buffer(const MapBuffer& buffer) = 0;

protected:
    ~ExitServices() = default;
};

enum class ExitOutcome : uint8_t {
    kExited,          // boot services are gone; `map` is final and lies in `buffer`
    kMapFailed,       // GetMemoryMap failed (`status`)
    kMapKeptGrowing,  // the map outgrew kMaxMapGrowths larger buffers in a row
    kNoMemoryForMap,  // a larger buffer could not be allocated
    kExitFailed,      // ExitBootServices failed other than with a stale key (`status`)
    kKeyKeptStale,    // every one of kMaxExitAttempts keys went stale
};

// The outcome as a short name for the log's reason= field.
const char* exit_outcome_name(ExitOutcome outcome);

struct [[nodiscard]] ExitResult {
    ExitOutcome outcome;
    uint64_t status;    // the firmware's last status
    MapBuffer buffer;   // the buffer in use at the end (the initial one, or a larger one)
    MapRead map;        // the last map read
    unsigned attempts;  // ExitBootServices calls made: after the first, only memory services remain
    unsigned growths;   // larger buffers taken
};

inline constexpr unsigned kMaxExitAttempts = 8;
inline constexpr unsigned kMaxMapGrowths = 4;
// Room for this many more descriptors than the map had when a buffer was
// sized: each allocation after that may split a free region in two.
inline constexpr uint64_t kSlackDescriptors = 32;

ExitResult exit_with_final_map(ExitServices& firmware, const MapBuffer& initial);

}  // namespace boot
