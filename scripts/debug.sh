#!/usr/bin/env bash
# debug.sh CHAPTER: `make debug`. QEMU starts paused with its GDB stub; GDB
# attaches with the kernel's symbols and stops at kernel_main.
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

/usr/bin/python3 tests/run_chapter.py gdb-script --chapter "$chapter" --port "$port" > "$gdb_commands"
/usr/bin/python3 tests/run_chapter.py debug --chapter "$chapter" --port "$port" </dev/null >"$serial_log" 2>&1 &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT

# Wait (at most 10 s) for QEMU's stub to listen before GDB tries to connect.
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    kill -0 $qemu 2>/dev/null || { cat "$serial_log" >&2; exit 1; }
    sleep 0.1
done
echo "debug: QEMU paused on port $port; serial output in $serial_log; GDB script $gdb_commands"
gdb -q -x "$gdb_commands"
