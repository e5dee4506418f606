"""Server processes seen through /proc: which processes listen on a port (an ``ssar serve``
parent and its uvicorn workers all hold the listening socket), their CPU seconds and RSS."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def pids_on_port(port: int) -> list[int]:
    """Every process holding a listening socket on ``port`` (readable /proc entries only)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    found = []
    if not wanted:
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    found.append(int(entry.name))
                    break
        except OSError:
            continue
    return sorted(found)


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (they share the cores with SSAR)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return sorted(found)


def children_of(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            kids.extend(int(k) for k in text)
    except OSError:
        pass
    return kids


def with_children(pids: list[int]) -> list[int]:
    seen: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(children_of(pid))
    return sorted(seen)


def cpu_seconds(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    # fields after the command: state(0) ppid(1) ... utime(11) stime(12)
    return (int(fields[11]) + int(fields[12])) / _TICKS


def memory_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:120]


@dataclass
class ProcessWatch:
    """CPU seconds between ``start()`` and ``stop()`` and peak RSS (sampled every ``interval``
    seconds, and the kernel's VmHWM) of each watched process."""

    pids: list[int]
    interval: float = 0.25
    _cpu0: dict[int, float] = field(default_factory=dict)
    _cpu1: dict[int, float] = field(default_factory=dict)
    _peak: dict[int, int] = field(default_factory=dict)
    _t0: float = 0.0
    _t1: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {p: c for p in self.pids if (c := cpu_seconds(p)) is not None}
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                rss = memory_kb(pid).get("VmRSS", 0)
                self._peak[pid] = max(self._peak.get(pid, 0), rss)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._t1 = time.monotonic()
        self._cpu1 = {p: c for p in self.pids if (c := cpu_seconds(p)) is not None}
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def report_total(self) -> dict[str, object]:
        """CPU of all watched processes together (backends come and go; those seen at start
        and still there at the end are counted)."""
        elapsed = max(self._t1 - self._t0, 1e-9)
        used = sum(self._cpu1[p] - self._cpu0[p] for p in self._cpu1 if p in self._cpu0)
        return {
            "processes": len(self.pids),
            "cpu_s": round(used, 2),
            "cpu_pct": round(100 * used / elapsed, 1),
        }

    def report(self) -> list[dict[str, object]]:
        elapsed = max(self._t1 - self._t0, 1e-9)
        rows = []
        for pid in self.pids:
            mem = memory_kb(pid)
            used = self._cpu1.get(pid, 0.0) - self._cpu0.get(pid, 0.0)
            rows.append(
                {
                    "pid": pid,
                    "command": command_of(pid),
                    "cpu_s": round(used, 2),
                    "cpu_pct": round(100 * used / elapsed, 1),
                    "rss_mb": round(mem.get("VmRSS", 0) / 1024, 1),
                    "peak_rss_mb_run": round(self._peak.get(pid, 0) / 1024, 1),
                    "peak_rss_mb_lifetime": round(mem.get("VmHWM", 0) / 1024, 1),
                }
            )
        return rows
