#!/usr/bin/env python3
"""Writes compile_commands.json (for clangd) from the Makefile's own flags.

Usage: compile_commands.py ROOT "COMPILER FLAGS" file... -- "COMPILER FLAGS" file... -- ...
Each group is one compiler command line and the sources it compiles.
"""
import json
import shlex
import sys


def main(argv: list[str]) -> None:
    root, rest = argv[1], argv[2:]
    entries = []
    while rest:
        command, rest = shlex.split(rest[0]), rest[1:]
        while rest and rest[0] != "--":
            source, rest = rest[0], rest[1:]
            entries.append({"directory": root, "file": source, "arguments": [*command, "-c", source]})
        rest = rest[1:]  # drop "--"
    json.dump(entries, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
