"""Several ``svtk`` command lines side by side, in worker processes that outlive each command.

Every ``svtk`` process of a recipe first spends ~10 s importing torch, transformers, peft and
lhotse (measured on egs/mini's 2-core machine: 13.6 of the 14.1 s of a decode of 8 utterances).
egs/mini runs 14 decodes of 1-60 s each, so one process per command paid more for imports than
for decoding. :func:`run_batch` forks ``jobs`` workers before anything heavy is imported; each
worker runs command after command through the same typer app as the ``svtk`` program (so every
option means what it means there), pays the imports once, and writes each command's output
to that command's log file. bin/jobs.sh hands a queue of ``svtk`` commands to ``svtk batch``.

A command file has one command per line, shell-quoted, its log first (``#`` starts a comment)::

    exp/mini/log/decode.test.log svtk decode --exp-dir exp/mini --split test --constrained
    exp/mini/log/decode.free.log svtk decode --exp-dir exp/mini --split test --no-constrained

Commands are handed out in file order to whichever worker is free, so put the long ones first.

Usage::

    results = run_batch(read_commands("cmds.txt"), jobs=2, threads=1)
    failed = [r for r in results if r.rc != 0]
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shlex
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from svtk.errors import UserError

log = logging.getLogger(__name__)

PROGRAM = "svtk"


@dataclass(frozen=True)
class Command:
    log: Path  # the command's stdout and stderr go here (truncated first)
    argv: list[str]  # the svtk arguments, without the program name

    def line(self) -> str:
        return shlex.join([PROGRAM, *self.argv])


@dataclass(frozen=True)
class Result:
    command: Command
    rc: int  # the exit status `svtk ARGV` would have had
    seconds: float


def read_commands(path: str | Path) -> list[Command]:
    """The commands of a command file (see the module docstring)."""
    commands = []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            raise UserError(f"{path}:{n}: {e}: {line!r}") from e
        if not words:
            continue
        if len(words) < 3 or words[1] != PROGRAM:
            raise UserError(f"{path}:{n}: expected 'LOG {PROGRAM} COMMAND [ARGS...]', got {line!r}")
        commands.append(Command(Path(words[0]), words[2:]))
    return commands


def _init_worker(threads: int) -> None:
    # read by torch (and OpenMP / MKL) when first imported: the parent has not imported torch
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:  # imported before the fork after all: set it directly
        sys.modules["torch"].set_num_threads(threads)


def run_command(command: Command) -> Result:
    """Run one command in this process, its stdout and stderr (file descriptors 1 and 2, so
    that child processes and C libraries are captured too) redirected to its log."""
    from svtk.cli import run

    command.log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(command.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    saved = os.dup(1), os.dup(2)
    streams = sys.stdout, sys.stderr
    start = time.monotonic()
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        # Python's own streams too, in case they are not file descriptors 1 and 2 (pytest)
        sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115
        try:
            rc = run(list(command.argv))
        except Exception:  # a bug, not a user error (run() handles those): log it, go on
            traceback.print_exc()
            rc = 1
    finally:
        sys.stdout.flush()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)
    return Result(command, rc, time.monotonic() - start)


def run_batch(commands: list[Command], jobs: int = 2, threads: int = 1) -> list[Result]:
    """Run ``commands`` on ``jobs`` worker processes with ``threads`` torch threads each;
    the results in the order of ``commands``. One job runs them here, one after the other.

    The workers are plain (non-daemon) processes, so a command may start processes of its own
    (a DataLoader's workers); one that dies (a crash in C) fails the command it was running."""
    if jobs <= 1 or len(commands) <= 1:
        _init_worker(threads)
        return [run_command(c) for c in commands]
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("fork")  # the workers inherit the parsed CLI, nothing heavy
    todo = ctx.Queue()
    n = min(jobs, len(commands))
    for item in enumerate(commands):
        todo.put(item)
    for _ in range(n):
        todo.put(None)
    # the command each worker started last, written before it starts
    started = ctx.Array("i", [-1] * n, lock=False)
    readers: dict = {}  # a pipe per worker (sent synchronously; EOF once it exits or dies)
    workers = []
    for k in range(n):
        reader, writer = ctx.Pipe(duplex=False)
        w = ctx.Process(target=_worker, args=(k, todo, writer, started, threads), daemon=False)
        w.start()
        writer.close()  # before the next fork: only worker k holds it, so its end is our EOF
        readers[reader] = k
        workers.append(w)
    results: dict[int, Result] = {}
    try:
        while readers:
            for reader in wait(list(readers)):
                k = readers[reader]
                try:
                    i, result = reader.recv()
                except EOFError:  # worker k is gone: if mid-command (a crash in C), it failed
                    del readers[reader]
                    workers[k].join()
                    i = started[k]
                    if i >= 0 and i not in results:
                        code = workers[k].exitcode
                        results[i] = Result(commands[i], abs(code or 1), float("nan"))
                        log.info("FAILED (worker died, exit %s): %s", code, commands[i].log)
                    continue
                results[i] = result
                log.info("%s (exit %d, %.1f s): %s", "done" if result.rc == 0 else "FAILED",
                         result.rc, result.seconds, result.command.log)
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
            w.join()
    missing = [c.line() for i, c in enumerate(commands) if i not in results]
    if missing:
        raise RuntimeError(f"svtk batch: the workers died before running {missing}")
    return [results[i] for i in range(len(commands))]


def _worker(k: int, todo, out, started, threads: int) -> None:
    _init_worker(threads)
    while (item := todo.get()) is not None:
        i, command = item
        started[k] = i
        out.send((i, run_command(command)))


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"
