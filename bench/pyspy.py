"""Optional py-spy profiles of a server process during a phase, and a summary of where its time went.

    .venv/bin/python -m bench --only P1 --py-spy /tmp/profiles     # records /tmp/profiles/P1-service.txt
    .venv/bin/python -m bench.pyspy /tmp/profiles/P1-service.txt    # top functions, self and inclusive

Profiles are recorded in py-spy's "raw" (collapsed stacks) format; BENCH_PY_SPY_NATIVE=1 adds C frames
(where the cyclic garbage collector shows up). Sampling slows the server a little:
figures from a profiled run are not the reported ones."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from bench.common import log

RATE = 250


class PySpy:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @contextlib.asynccontextmanager
    async def record(self, name: str, pid: int, wanted: bool = True) -> AsyncIterator[None]:
        beside = Path(sys.executable).parent / "py-spy"
        binary = str(beside) if beside.is_file() else shutil.which("py-spy")
        if self.directory is None or not wanted:
            yield
            return
        if binary is None:
            log("py-spy not found (pip install py-spy into .venv): not profiling")
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        output = self.directory / f"{name}.txt"
        # C frames too (where the gc shows up); py-spy must then pause the process for each sample.
        mode = ["--native"] if os.environ.get("BENCH_PY_SPY_NATIVE") else ["--nonblocking"]
        process = await asyncio.create_subprocess_exec(
            binary, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw", *mode,
            "--output", str(output),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield
        finally:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
            log(f"py-spy profile of {name}: {output}")


FRAME = re.compile(r"^(?P<function>[^ ]+) \((?P<file>[^:]+)(?::\d+)?\)$")


def summarize(path: Path, top: int = 30) -> str:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for frame in stack.split(";"):
            match = FRAME.match(frame.strip())
            frames.append(f"{match['function']} ({_short(match['file'])})" if match else frame.strip())
        if frames:
            self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples at {RATE} Hz (~{total / RATE:.1f} s busy)", "", "self time:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in self_time.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Summarize a py-spy raw profile")
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=30)
    arguments = parser.parse_args()
    print(summarize(arguments.profile, arguments.top))
