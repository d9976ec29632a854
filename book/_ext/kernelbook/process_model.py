"""The boot log read as one process's address space (``{process-space}``):
its lower half, region by region, beside the kernel's upper half, which every
process shares. :mod:`kernelbook.process_svg` draws it.

Like :mod:`kernelbook.diagram_model`, everything here comes from the log of a
real boot and nothing knows an address of its own:

* the lower half's bounds from ``[INFO  user] layout lowest=… limit=…
  lower-half-end=…`` (chapter 12 on);
* chapter 12's regions from ``[INFO  user] segment pid=… va=… pages=…
  rights=…`` and ``[INFO  user] stack pid=… va=… pages=… rights=… guard=…``,
  checked against the ``start`` line's ``stack-top=``;
* chapter 13's from ``[INFO  vm] region pid=… start=… end=… rights=…
  kind=…`` (the stack's with ``grow-limit=`` and ``guard-gap=``), changed in
  log order by the process's ``mmap``, ``munmap`` and ``mprotect`` lines, the
  stack's low end from its ``[INFO  vm] usage … stack-low=…`` line;
* chapter 14's fork from ``[INFO  cow] fork pid=… child=…``: the child starts
  with the parent's regions as they were at that line (fork copies the region
  list), and ``[INFO  cow] copied`` / ``taken-over`` lines say which pages of a
  shared region each side later wrote;
* the kernel's half from :func:`diagram_model.address_space` (the same phases
  and checks as ``{address-space}``), summarised one band per phase, and the
  ``share_kernel_half`` phase line that gives it to every process.

A line the diagram needs but cannot find, or a log that contradicts itself
(a region over another, an ``mprotect`` of an address no region holds),
raises :class:`DiagramError` naming it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .diagram_model import KIB4, DiagramError, Record, Region, _find, address_space

# ---------------------------------------------------------------------------
# One process's lower half
# ---------------------------------------------------------------------------


@dataclass
class Piece:
    """One band of a process's lower half: a region or a part of one, or a
    range the kernel keeps empty (the stack's growth room and guard gap)."""

    kind: str                   # file | segment | anonymous | stack | growth | guard-gap | guard
    start: int
    end: int
    rights: str = ""            # r-x, r--, rw- (regions only)
    state: str = "mapped"       # mapped | unmapped (munmap took it later)
    notes: list[str] = field(default_factory=list)     # what happened to it later, as the log says
    lines: list[str] = field(default_factory=list)     # the log lines it is drawn from
    shared: str = ""            # after a fork: copy-on-write | read-only
    copied: dict[str, list[int]] = field(default_factory=dict)  # copied | taken-over -> the pages' addresses

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def is_region(self) -> bool:
        return self.kind in ("file", "segment", "anonymous", "stack")


@dataclass
class Process:
    pid: int
    name: str
    pieces: list[Piece]          # address order
    lines: list[str]             # the start (or fork) line
    parent: int | None = None    # the pid it was forked from


@dataclass
class Layout:
    lowest: int                  # nothing user below this
    limit: int                   # nothing user at or above this
    lower_half_end: int          # the first non-canonical address
    line: str


@dataclass
class KernelBand:
    """One phase's regions in the kernel's half, summarised."""

    phase: str
    title: str
    start: int
    end: int
    mapped: int                  # bytes the phase's regions map
    regions: int                 # how many (guards not counted)
    guards: int
    lines: list[str]


@dataclass
class ProcessSpace:
    layout: Layout
    processes: list[Process]     # one, or a parent and its child
    kernel: list[KernelBand]     # address order
    shared_half: Record          # the share_kernel_half phase line
    fork: Record | None = None   # the fork line between the two processes

    @property
    def upper_half_start(self) -> int:
        """Where the canonical upper half starts: the lower half's end, sign-extended."""
        return (1 << 64) - self.layout.lower_half_end


#: What a reader calls a phase's regions in the summary of the kernel's half.
KERNEL_TITLES = {
    "map_phys_offset_regions": "phys window",
    "map_mmio_devices": "MMIO registers",
    "map_framebuffer": "framebuffer",
    "create_heap": "kernel heap",
    "map_kernel_stacks": "IST stacks",
    "create_temporary_window": "temporary window",
    "map_kernel_image": "kernel image",
}


def _layout(records: list[Record]) -> Layout:
    found = _find(records, "user", "layout")
    if not found:
        raise DiagramError("the log has no '[INFO  user] layout lowest=… limit=… lower-half-end=…' line: "
                           "the lower half's bounds are unknown")
    line = found[0]
    layout = Layout(line.int("lowest"), line.int("limit"), line.int("lower-half-end"), line.text)
    if not 0 < layout.lowest < layout.limit < layout.lower_half_end or layout.lower_half_end & (layout.lower_half_end - 1):
        raise DiagramError(f"lowest < limit < lower-half-end (a power of two) does not hold: {line.text}")
    return layout


def _pid_lines(records: list[Record], pid: int) -> list[Record]:
    return [r for r in records if r.subsystem in ("user", "vm", "cow") and r.fields.get("pid") == str(pid)]


def _split(pieces: list[Piece], start: int, end: int) -> list[Piece]:
    """The pieces, cut at start and end, so each lies wholly in or out of [start, end)."""
    out = []
    for p in pieces:
        cuts = sorted({p.start, p.end} | {c for c in (start, end) if p.start < c < p.end})
        for a, b in zip(cuts, cuts[1:]):
            part = copy.deepcopy(p)
            part.start, part.end = a, b
            out.append(part)
    return out


def _inside(p: Piece, start: int, end: int) -> bool:
    return start <= p.start and p.end <= end


def _mmap(pieces: list[Piece], line: Record) -> list[Piece]:
    start, length = line.int("start"), line.int("length")
    end = start + length
    if length <= 0 or start % KIB4 or length % KIB4:
        raise DiagramError(f"mmap of a range that is not whole pages: {line.text}")
    for p in pieces:
        if p.state == "mapped" and p.start < end and start < p.end:
            raise DiagramError(f"{line.text!r} maps over the {p.kind} [{p.start:#x}, {p.end:#x}) "
                               f"the log still has: {p.lines[0]}")
    # Space a munmap gave back may be mapped again: the old band's part goes.
    kept = [p for p in _split(pieces, start, end) if not _inside(p, start, end)]
    return sorted(kept + [Piece("anonymous", start, end, line.need("prot"), lines=[line.text])], key=lambda p: p.start)


def _munmap(pieces: list[Piece], line: Record) -> list[Piece]:
    start, length = line.int("start"), line.int("length")
    out = _split(pieces, start, start + length)
    hit = [p for p in out if _inside(p, start, start + length) and p.state == "mapped" and p.is_region]
    if any(p.kind == "stack" for p in hit):
        raise DiagramError(f"{line.text!r} unmaps the stack, which the kernel refuses")
    for p in hit:
        p.state = "unmapped"
        p.lines.append(line.text)
        p.notes.append(f"munmap at {start:#x}: {line.need('pages')} pages, {line.need('tables')} tables returned")
    return out


def _mprotect(pieces: list[Piece], line: Record) -> list[Piece]:
    start, length = line.int("start"), line.int("length")
    out = _split(pieces, start, start + length)
    hit = [p for p in out if _inside(p, start, start + length) and p.state == "mapped" and p.is_region]
    if sum(p.size for p in hit) != length:
        raise DiagramError(f"{line.text!r}: the log's regions do not hold all of [{start:#x}, {start + length:#x})")
    for p in hit:
        if p.rights != line.need("prot"):
            p.notes.append(f"mprotect: {p.rights} → {line.fields['prot']}")
            p.rights = line.fields["prot"]
        p.lines.append(line.text)
    return out


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Neighbours that read the same (what munmap and mprotect cut apart, and
    all the unmapped space of one history) drawn as one band."""
    out: list[Piece] = []
    for p in sorted(pieces, key=lambda p: p.start):
        last = out[-1] if out else None
        same = last is not None and last.end == p.start and last.kind == p.kind and last.state == p.state and (
            p.state == "unmapped" or (last.rights == p.rights and last.notes == p.notes and last.lines == p.lines))
        if same:
            last.end = p.end
            last.lines += [line for line in p.lines if line not in last.lines]
            last.notes += [note for note in p.notes if note not in last.notes]
        else:
            out.append(p)
    return out


def _stack_room(stack: Piece, line: Record) -> list[Piece]:
    """Below a chapter 13 stack: room to grow down to grow-limit=, then the
    guard gap (guard-gap=) where no region may start."""
    limit, gap = line.int("grow-limit"), line.size("guard-gap")
    if not gap < limit <= stack.start:
        raise DiagramError(f"grow-limit= must lie at or below start= and above guard-gap=: {line.text}")
    room = [Piece("growth", limit, stack.start, lines=[line.text])] if limit < stack.start else []
    return room + [Piece("guard-gap", limit - gap, limit, lines=[line.text])]


def _regions_of_chapter_12(lines: list[Record], start: Record) -> list[Piece]:
    pieces = [Piece("segment", s.int("va"), s.int("va") + s.int("pages") * KIB4, s.need("rights"), lines=[s.text])
              for s in lines if s.subsystem == "user" and s.event == "segment"]
    stacks = [s for s in lines if s.subsystem == "user" and s.event == "stack"]
    if len(stacks) != 1:
        raise DiagramError(f"pid {start.fields['pid']} needs one '[INFO  user] stack pid=…' line, the log has {len(stacks)}")
    s = stacks[0]
    stack = Piece("stack", s.int("va"), s.int("va") + s.int("pages") * KIB4, s.need("rights"), lines=[s.text])
    if stack.end != start.int("stack-top"):
        raise DiagramError(f"{s.text!r}: va + pages × 4 KiB is not the start line's stack-top={start.fields['stack-top']}")
    guard = s.int("guard")
    if guard >= stack.start:
        raise DiagramError(f"guard= is not below the stack: {s.text}")
    return pieces + [Piece("guard", guard, stack.start, lines=[s.text]), stack]


def _stack_low(pieces: list[Piece], lines: list[Record]) -> None:
    """The stack's low end, from its last usage line's stack-low= (it only grows)."""
    usage = [r for r in lines if r.subsystem == "vm" and r.event == "usage" and "stack-low" in r.fields]
    if not usage:
        return
    low = usage[-1].int("stack-low")
    [stack] = [p for p in pieces if p.kind == "stack"]
    below = [p for p in pieces if p.kind == "growth"]
    if low > stack.start or (below and low < below[0].start) or (not below and low != stack.start):
        raise DiagramError(f"stack-low={usage[-1].fields['stack-low']} lies outside the stack's room "
                           f"[{below[0].start if below else stack.start:#x}, {stack.start:#x}]: {usage[-1].text}")
    if low < stack.start:
        grown = (stack.start - low) // KIB4
        stack.notes.append(f"grew {grown} pages down from {stack.start:#x}")
        stack.lines.append(usage[-1].text)
        stack.start = low
        below[0].end = low
        if below[0].size == 0:
            pieces.remove(below[0])


def _history(pieces: list[Piece], lines: list[Record]) -> list[Piece]:
    for r in lines:
        if r.subsystem != "vm":
            continue
        if r.event == "mmap":
            pieces = _mmap(pieces, r)
        elif r.event == "munmap":
            pieces = _munmap(pieces, r)
        elif r.event == "mprotect":
            pieces = _mprotect(pieces, r)
    return pieces


def _regions_of_chapter_13(lines: list[Record], pid: int) -> list[Piece]:
    regions = [r for r in lines if r.subsystem == "vm" and r.event == "region"]
    if not regions:
        raise DiagramError(f"pid {pid} has no '[INFO  user] segment' nor '[INFO  vm] region' lines")
    pieces = []
    for r in regions:
        p = Piece(r.need("kind"), r.int("start"), r.int("end"), r.need("rights"), lines=[r.text])
        if p.end <= p.start:
            raise DiagramError(f"region with end <= start: {r.text}")
        pieces.append(p)
        if p.kind == "stack":
            pieces += _stack_room(p, r)
    if sum(p.kind == "stack" for p in pieces) != 1:
        raise DiagramError(f"pid {pid} needs one region line with kind=stack, the log has "
                           f"{sum(p.kind == 'stack' for p in pieces)}")
    return sorted(pieces, key=lambda p: p.start)


def _check(process: Process, layout: Layout) -> None:
    pieces = process.pieces
    for a, b in zip(pieces, pieces[1:]):
        if b.start < a.end:
            raise DiagramError(f"pid {process.pid}: {a.kind} [{a.start:#x}, {a.end:#x}) overlaps {b.kind} at {b.start:#x}:"
                               f"\n  {a.lines[0]}\n  {b.lines[0]}")
    for p in pieces:
        if p.start < layout.lowest or p.end > layout.limit:
            raise DiagramError(f"pid {process.pid}: {p.kind} [{p.start:#x}, {p.end:#x}) lies outside the lower half the "
                               f"layout line allows, [{layout.lowest:#x}, {layout.limit:#x}): {p.lines[0]}")


def _life(records: list[Record], pid: int, begin: int = 0) -> list[Record]:
    """The lines of ``pid`` from ``records[begin]`` on, up to and including
    its exit line (a later process may get the same pid)."""
    out = []
    for r in _pid_lines(records[begin:], pid):
        out.append(r)
        if r.subsystem == "user" and r.event == "exit":
            break
    return out


def _stack_and_history(pieces: list[Piece], lines: list[Record]) -> list[Piece]:
    pieces = _history(pieces, lines)
    _stack_low(pieces, lines)
    return _merge(pieces)


def _at_fork(records: list[Record], fork: Record) -> list[Piece]:
    """The parent's regions as they were when it forked: fork copies the list."""
    at = records.index(fork)
    parent = fork.int("pid")
    before = _life(records[:at], parent)
    # What munmap took before the fork was never the child's.
    return _merge([p for p in _history(_regions_of_chapter_13(before, parent), before) if p.state == "mapped"])


def _process(records: list[Record], pid: int, layout: Layout) -> Process:
    lines = _life(records, pid)
    if not lines:
        raise DiagramError(f"no line of the log names pid={pid}")
    starts = [r for r in lines if r.subsystem == "user" and r.event == "start"]
    forks = [r for r in _find(records, "cow", "fork") if r.fields.get("child") == str(pid)]
    if starts:
        start = starts[0]
        if any(r.subsystem == "user" and r.event == "segment" for r in lines):
            pieces = _regions_of_chapter_12(lines, start)
        else:
            pieces = _stack_and_history(_regions_of_chapter_13(lines, pid), lines)
        process = Process(pid, start.need("name"), pieces, [start.text])
    elif forks:
        fork = forks[0]
        # The parent's regions at the fork, then what the child did with them.
        child_lines = _life(records, pid, records.index(fork) + 1)
        pieces = _stack_and_history(_at_fork(records, fork), child_lines)
        process = Process(pid, fork.need("name"), pieces, [fork.text], parent=fork.int("pid"))
    else:
        raise DiagramError(f"pid {pid} has neither a '[INFO  user] start' line nor a '[INFO  cow] fork … child={pid}' line")
    _check(process, layout)
    return process


# ---------------------------------------------------------------------------
# After a fork: what the two processes share
# ---------------------------------------------------------------------------


def _mark_sharing(processes: list[Process], fork: Record, records: list[Record]) -> None:
    """What the parent had mapped when it forked, both now map: a writable
    region copy-on-write, any other read-only. Then each side's ``copied`` and
    ``taken-over`` lines after the fork say which pages it wrote, and so no
    longer shares."""
    inherited = [p for p in _at_fork(records, fork) if p.is_region and p.state == "mapped"]
    at = records.index(fork)
    for process in processes:
        for p in process.pieces:
            # Overlap, not containment: a stack may have grown below its logged start since.
            origin = next((q for q in inherited if q.kind == p.kind and q.start < p.end and p.start < q.end), None)
            if origin is None or not p.is_region:
                continue
            p.shared = "copy-on-write" if "w" in origin.rights else "read-only"
            p.lines.append(fork.text)
        for r in records[at + 1:]:
            if r.subsystem == "cow" and r.event in ("copied", "taken-over") and r.fields.get("pid") == str(process.pid):
                va = r.int("va")
                holder = next((p for p in process.pieces if p.start <= va < p.end and p.is_region), None)
                if holder is None:
                    raise DiagramError(f"pid {process.pid} wrote a page no region of it holds: {r.text}")
                holder.copied.setdefault(r.event, []).append(va)
                holder.lines.append(r.text)
            if r.subsystem == "user" and r.event == "exit" and r.fields.get("pid") == str(process.pid):
                break


# ---------------------------------------------------------------------------
# The kernel's half, summarised
# ---------------------------------------------------------------------------


def _kernel_half(records: list[Record], upper_start: int) -> list[KernelBand]:
    space = address_space(records)
    bands = []
    for phase in space.phases:
        regions: list[Region] = [r for r in space.regions if r.phase == phase.name and not r.removed]
        if not regions:
            continue
        if any(r.start < upper_start for r in regions):
            raise DiagramError(f"phase {phase.name} maps below the upper half ({upper_start:#x}) and is not removed: "
                               f"{phase.record.text}")
        title = KERNEL_TITLES.get(phase.name)
        if title is None:
            raise DiagramError(f"phase {phase.name} has no title in the process diagram's summary of the kernel's half "
                               f"(book/_ext/kernelbook/process_model.py KERNEL_TITLES): {phase.record.text}")
        mapped = [r for r in regions if r.end is not None]
        guards = [r for r in regions if r.end is None]
        end = max([r.end for r in mapped] + [g.start + KIB4 for g in guards])
        bands.append(KernelBand(phase.name, title, min(r.start for r in regions), end, sum(r.size for r in mapped),
                                len(mapped), len(guards), [phase.record.text]))
    bands.sort(key=lambda b: b.start)
    for a, b in zip(bands, bands[1:]):
        if b.start < a.end:
            raise DiagramError(f"the kernel's {a.title} [{a.start:#x}, {a.end:#x}) and {b.title} at {b.start:#x} overlap")
    return bands


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


def _pick(records: list[Record], name: str | None, pids: list[int]) -> list[int]:
    if name is not None:
        found = [r for r in _find(records, "user", "start") if r.fields.get("name") == name]
        if not found:
            names = ", ".join(r.fields.get("name", "?") for r in _find(records, "user", "start")) or "none"
            raise DiagramError(f"no '[INFO  user] start name={name} …' line in the log (programs started: {names})")
        return [found[0].int("pid")]
    if not pids:
        raise DiagramError("give :name: PROGRAM, :pid: N or :pids: PARENT CHILD")
    return pids


def process_space(records: list[Record], name: str | None = None, pids: list[int] | None = None,
                  with_child: bool = False) -> ProcessSpace:
    """The address space of one process (by ``name``: the first program
    started with that name; or by pid), or of a parent and its child side by
    side (``pids`` = [parent, child], or ``with_child``: the chosen process
    and the first child it forked)."""
    layout = _layout(records)
    chosen = _pick(records, name, pids or [])
    if with_child:
        if len(chosen) != 1:
            raise DiagramError("with its child: choose the parent alone (:name: or :pid:)")
        forks = [r for r in _find(records, "cow", "fork") if r.fields.get("pid") == str(chosen[0])]
        if not forks:
            raise DiagramError(f"pid {chosen[0]} forked no child: the log has no '[INFO  cow] fork pid={chosen[0]} …' line")
        chosen.append(forks[0].int("child"))
    if len(chosen) > 2 or len(set(chosen)) != len(chosen):
        raise DiagramError(f"one pid, or two (a parent and its child): {' '.join(map(str, chosen))}")
    processes = [_process(records, pid, layout) for pid in chosen]
    fork = None
    if len(processes) == 2:
        parent, child = processes
        forks = [r for r in _find(records, "cow", "fork") if r.fields.get("pid") == str(parent.pid)
                 and r.fields.get("child") == str(child.pid)]
        if not forks:
            raise DiagramError(f"pid {child.pid} is not a child of pid {parent.pid}: the log has no "
                               f"'[INFO  cow] fork pid={parent.pid} … child={child.pid}' line")
        fork = forks[0]
        _mark_sharing(processes, fork, records)
    shared = [r for r in _find(records, "paging", "phase share_kernel_half")]
    if not shared:
        raise DiagramError("the log has no '[INFO  paging] phase share_kernel_half …' line: "
                           "nothing says every process shares the kernel's half")
    upper = (1 << 64) - layout.lower_half_end
    return ProcessSpace(layout, processes, _kernel_half(records, upper), shared[0], fork)
