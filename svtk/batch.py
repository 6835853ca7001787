"""Several ``svtk`` command lines side by side, in worker processes that outlive each command.

Every ``svtk`` process of a recipe first spends ~10 s importing torch, transformers, peft and
lhotse (measured on egs/mini's 2-core machine: 13.6 of the 14.1 s of a decode of 8 utterances).
egs/mini runs 14 decodes of 1-60 s each, so one process per command paid more for imports than
for decoding. :func:`run_batch` forks ``jobs`` workers before anything heavy is imported; each
worker runs command after command through the same typer app as the ``svtk`` program (so every
option means what it means there), pays the imports once, and writes each command's output
to that command's log file. bin/jobs.sh hands a queue of ``svtk`` commands to ``svtk batch``.

A command file has one command per line, shell-quoted, its log first (``#`` starts a comment);
``after=LOG`` words before it make it wait for the earlier commands that write those logs::

    exp/mini/log/curriculum.log svtk train --phase phase1 --phase phase2a --exp-dir exp/mini
    exp/all/log/allatonce.log svtk train --phase allatonce --exp-dir exp/all
    after=exp/mini/log/curriculum.log exp/mini/log/decode.test.log svtk decode --exp-dir exp/mini ...
    after=exp/all/log/allatonce.log exp/all/log/decode.test.log svtk decode --exp-dir exp/all ...

Commands are handed out in file order to whichever worker is free, the first whose
dependencies have finished (so put the long ones first): here the second worker decodes the
all-at-once model while the first still trains the curriculum. A dependency that is not in the
file counts as done (a recipe started at a later stage); one that failed fails its dependents
without running them.

Usage::

    results = run_batch(read_commands("cmds.txt"), jobs=2, threads=1)
    failed = [r for r in results if r.rc != 0]
"""

from __future__ import annotations

import contextlib
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
AFTER = "after="


@dataclass(frozen=True)
class Command:
    log: Path  # the command's stdout and stderr go here (truncated first)
    argv: list[str]  # the svtk arguments, without the program name
    after: tuple[Path, ...] = ()  # logs of earlier commands that must have succeeded first

    def line(self) -> str:
        return shlex.join([PROGRAM, *self.argv])


@dataclass(frozen=True)
class Result:
    command: Command
    rc: int  # the exit status `svtk ARGV` would have had
    seconds: float


def read_commands(path: str | Path) -> list[Command]:
    """The commands of a command file (see the module docstring)."""
    commands, lines = [], []
    for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            raise UserError(f"{path}:{n}: {e}: {line!r}") from e
        if not words:
            continue
        after = []
        while words and words[0].startswith(AFTER):
            after.append(Path(words.pop(0)[len(AFTER):]))
        if len(words) < 3 or words[1] != PROGRAM:
            raise UserError(f"{path}:{n}: expected '[after=LOG ...] LOG {PROGRAM} COMMAND "
                            f"[ARGS...]', got {line!r}")
        commands.append(Command(Path(words[0]), words[2:], tuple(after)))
        lines.append(n)
    for i, (c, n) in enumerate(zip(commands, lines, strict=True)):
        own_or_later = {d.log for d in commands[i:]}
        wrong = [str(a) for a in c.after if a in own_or_later]
        if wrong:
            raise UserError(f"{path}:{n}: a command can only wait for earlier commands, not "
                            f"for {', '.join(wrong)}")
    return commands


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _init_worker(threads: int) -> None:
    # read by torch (and OpenMP / MKL) when first imported: the parent has not imported torch
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    if "torch" in sys.modules:  # imported before the fork after all: set it directly
        sys.modules["torch"].set_num_threads(threads)


@contextlib.contextmanager
def _threads_here(threads: int):
    """:func:`_init_worker` for commands run in this process, undone afterwards: the caller (a
    test, a notebook) keeps its own thread settings."""
    saved = {var: os.environ.get(var) for var in THREAD_VARS}
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    _init_worker(threads)
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)


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


def _skip(command: Command, failed: Path) -> Result:
    """A command whose dependency failed: not run, failed, the reason in its log."""
    command.log.parent.mkdir(parents=True, exist_ok=True)
    command.log.write_text(f"not run: {failed} failed ({command.line()})\n")
    log.info("FAILED (not run: %s failed): %s", failed, command.log)
    return Result(command, 1, 0.0)


class _Plan:
    """Which command runs next: the first in file order whose dependencies (in this batch)
    have finished; one whose dependency failed fails without running."""

    def __init__(self, commands: list[Command]):
        self.commands = commands
        self.pending = list(range(len(commands)))
        self.in_batch = {c.log for c in commands}
        self.finished: dict[Path, int] = {}  # log -> exit status
        self.results: dict[int, Result] = {}

    def finish(self, i: int, result: Result) -> None:
        self.results[i] = result
        self.finished[self.commands[i].log] = result.rc

    def next(self) -> int | None:
        """The next command to start (None: none can start now), failing any whose dependency
        failed on the way."""
        for i in list(self.pending):
            c = self.commands[i]
            deps = [a for a in c.after if a in self.in_batch]
            if any(a not in self.finished for a in deps):
                continue
            self.pending.remove(i)
            failed = next((a for a in deps if self.finished[a] != 0), None)
            if failed is None:
                return i
            self.finish(i, _skip(c, failed))
        return None


def run_batch(commands: list[Command], jobs: int = 2, threads: int = 1) -> list[Result]:
    """Run ``commands`` on ``jobs`` worker processes with ``threads`` torch threads each;
    the results in the order of ``commands``. One job runs them here, one after the other.

    The workers are plain (non-daemon) processes, so a command may start processes of its own
    (a DataLoader's workers); one that dies (a crash in C) fails the command it was running."""
    plan = _Plan(commands)
    if jobs <= 1 or len(commands) <= 1:
        with _threads_here(threads):
            while (i := plan.next()) is not None:  # file order: every dependency runs first
                plan.finish(i, run_command(commands[i]))
        return [plan.results[i] for i in range(len(commands))]
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("fork")  # the workers inherit the parsed CLI, nothing heavy
    n = min(jobs, len(commands))
    tasks, readers, workers = [], {}, []  # a pipe each way per worker
    for k in range(n):
        task_r, task_w = ctx.Pipe(duplex=False)
        reader, writer = ctx.Pipe(duplex=False)
        w = ctx.Process(target=_worker, args=(task_r, writer, threads), daemon=False)
        w.start()
        writer.close()  # before the next fork: only worker k holds it, so its end is our EOF
        task_r.close()
        readers[reader] = k
        tasks.append(task_w)
        workers.append(w)
    running: dict[int, int] = {}  # worker -> the command it runs
    idle = list(range(n))
    try:
        while True:
            while idle and (i := plan.next()) is not None:
                k = idle.pop(0)
                running[k] = i
                tasks[k].send((i, commands[i]))
            if not running:
                break
            for reader in wait(list(readers)):
                k = readers[reader]
                try:
                    _, result = reader.recv()
                except EOFError:  # worker k is gone: if mid-command (a crash in C), it failed
                    del readers[reader]
                    workers[k].join()
                    if k in idle:
                        idle.remove(k)
                    if k in running:
                        i, code = running.pop(k), workers[k].exitcode
                        plan.finish(i, Result(commands[i], abs(code or 1), float("nan")))
                        log.info("FAILED (worker died, exit %s): %s", code, commands[i].log)
                    continue
                i = running.pop(k)
                plan.finish(i, result)
                idle.append(k)
                log.info("%s (exit %d, %.1f s): %s", "done" if result.rc == 0 else "FAILED",
                         result.rc, result.seconds, result.command.log)
        for k in idle:  # done: the idle workers exit
            tasks[k].send(None)
            workers[k].join()
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
            w.join()
    missing = [c.line() for i, c in enumerate(commands) if i not in plan.results]
    if missing:
        raise RuntimeError(f"svtk batch: the workers died before running {missing}")
    return [plan.results[i] for i in range(len(commands))]


def _worker(todo, out, threads: int) -> None:
    _init_worker(threads)
    while (item := todo.recv()) is not None:
        i, command = item
        out.send((i, run_command(command)))


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"
