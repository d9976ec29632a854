#!/usr/bin/env bash
# debug.sh CHAPTER: `make debug`. QEMU starts paused with its GDB stub; GDB
# attaches with the kernel's symbols and the helpers of scripts/gdb/kgdb.py
# (kpt, kmemmap, klayout, kloader), and stops at kernel_main.
#
# LOADER=1 (make debug CH=... LOADER=1) stops in the loader first, at efi_main:
# the chapter boots once without the debugger to learn BOOTX64.EFI's image base
# from its log line (`[INFO  loader] start ... image-base=0x...`; OVMF loads it
# at the same address on every boot of one build and one QEMU configuration),
# then boots paused with the loader's symbols loaded at that base.
# MEM=..., CPU=..., SMP=... and MACHINE=... change the machine, CMDLINE=... the kernel command line, as
# for `make run`.
#
# The port is per user (20000 + uid % 10000; GDB_PORT overrides it), so two
# people on one machine do not collide. The guest's serial output goes to
# build/CHAPTER/debug-serial.log: follow it with `tail -f` in another terminal.
set -euo pipefail
chapter=$1
cd "$(dirname "$0")/.."
port=${GDB_PORT:-$((20000 + $(id -u) % 10000))}
serial_log=build/$chapter/debug-serial.log
gdb_commands=build/$chapter/debug.gdb
machine=(--chapter "$chapter")
[[ -n ${MEM:-} ]] && machine+=(--memory "$MEM")
[[ -n ${CPU:-} ]] && machine+=(--cpu "$CPU")
[[ -n ${SMP:-} ]] && machine+=(--smp "$SMP")
[[ -n ${MACHINE:-} ]] && machine+=(--machine "$MACHINE")
[[ -n ${CMDLINE:-} ]] && machine+=(--cmdline "$CMDLINE")

script_options=()
if [[ -n ${LOADER:-} && ${LOADER:-} != 0 ]]; then
    probe_log=build/$chapter/loader-probe.log
    echo "debug: booting $chapter once to learn where the firmware loads BOOTX64.EFI ($probe_log)"
    setsid /usr/bin/python3 tests/run_chapter.py run "${machine[@]}" </dev/null >"$probe_log" 2>&1 &
    probe=$!
    base=
    for _ in $(seq 600); do  # at most 60 s
        base=$(grep -aom1 'image-base=0x[0-9a-f]*' "$probe_log" | cut -d= -f2 || true)
        [[ -n $base ]] && break
        kill -0 $probe 2>/dev/null || break
        sleep 0.1
    done
    kill -- -$probe 2>/dev/null || true  # the probe's python and its QEMU (own process group)
    wait $probe 2>/dev/null || true
    [[ -n $base ]] || { echo "debug: the first boot printed no image-base line (see $probe_log)" >&2; exit 1; }
    echo "debug: BOOTX64.EFI image base $base; GDB stops at efi_main first"
    script_options=(--loader-base "$base")
fi

/usr/bin/python3 tests/run_chapter.py gdb-script --chapter "$chapter" --port "$port" "${script_options[@]}" > "$gdb_commands"
# Its own process group, so that leaving GDB (which may detach and let the guest
# run on) also ends QEMU, not only the Python that started it.
setsid /usr/bin/python3 tests/run_chapter.py debug "${machine[@]}" --port "$port" </dev/null >"$serial_log" 2>&1 &
qemu=$!
trap 'kill -- -$qemu 2>/dev/null || true' EXIT

# Wait (at most 10 s) for QEMU's stub to listen before GDB tries to connect.
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    kill -0 $qemu 2>/dev/null || { cat "$serial_log" >&2; exit 1; }
    sleep 0.1
done
echo "debug: QEMU paused on port $port; serial output in $serial_log; GDB script $gdb_commands"
echo "debug: GDB commands: kpt VA, kmemmap, klayout, kloader (help kpt; book/reference/debugging.md)"
gdb -q -x "$gdb_commands"
