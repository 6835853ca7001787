"""svtk batch: command lines run in long-lived forked workers, each command's output in its log,
the exit status of each as `svtk ...` alone would give it, the threads per worker set."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

import svtk.cli
from svtk.batch import Command, read_commands, run_batch
from svtk.errors import UserError


def test_read_commands_parses_shell_quoting_and_comments(tmp_path):
    f = tmp_path / "cmds.txt"
    f.write_text("# the decodes\n"
                 "exp/log/a.log svtk decode --split 'test_seen test_unseen' --beam 4  # long\n"
                 "\n"
                 "exp/log/b\\ c.log svtk score exp/x\n")
    cmds = read_commands(f)
    assert cmds == [
        Command(log=Path("exp/log/a.log"),
                argv=["decode", "--split", "test_seen test_unseen", "--beam", "4"]),
        Command(log=Path("exp/log/b c.log"), argv=["score", "exp/x"])]
    for bad in ("exp/log/a.log decode --split x\n", "only-a-log\n", "a.log svtk 'unclosed\n"):
        f.write_text(bad)
        with pytest.raises(UserError, match="cmds.txt:1"):
            read_commands(f)


def fake_run(argv):
    """Stands in for svtk.cli.run in the forked workers (they inherit the monkeypatch)."""
    print(f"{argv[0]} pid={os.getpid()} threads={os.environ.get('OMP_NUM_THREADS')}")
    print(f"{argv[0]} to stderr", file=sys.stderr)
    os.system(f"echo {argv[0]} from a child process")  # fd-level capture reaches subprocesses
    return int(argv[1])


def test_commands_run_in_workers_with_their_output_in_their_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(svtk.cli, "run", fake_run)
    cmds = [Command(tmp_path / f"logs/{i}.log", [f"c{i}", str(rc)])
            for i, rc in enumerate([0, 3, 0, 0, 2])]
    results = run_batch(cmds, jobs=2, threads=1)
    assert [r.command for r in results] == cmds  # in the order given
    assert [r.rc for r in results] == [0, 3, 0, 0, 2]
    pids = set()
    for i, c in enumerate(cmds):
        lines = c.log.read_text().splitlines()
        assert lines[0].startswith(f"c{i} pid=") and lines[0].endswith("threads=1"), lines
        assert f"c{i} to stderr" in lines and f"c{i} from a child process" in lines
        pids.add(lines[0].split()[1])
    assert len(pids) <= 2 and str(os.getpid()) not in {p.split("=")[1] for p in pids}


def test_a_crashing_command_is_a_failure_not_the_end_of_the_batch(tmp_path, monkeypatch):
    def crash(argv):
        if argv[0] == "boom":
            raise RuntimeError("a bug")
        return 0

    monkeypatch.setattr(svtk.cli, "run", crash)
    cmds = [Command(tmp_path / "boom.log", ["boom"]), Command(tmp_path / "ok.log", ["ok"])]
    assert [r.rc for r in run_batch(cmds, jobs=1)] == [1, 0]
    assert "RuntimeError: a bug" in (tmp_path / "boom.log").read_text()


def test_a_worker_that_dies_fails_its_command_and_the_others_go_on(tmp_path, monkeypatch):
    def die(argv):
        if argv[0] == "die":
            os._exit(9)  # as a segfault in C would: no exception, no result
        return 0

    monkeypatch.setattr(svtk.cli, "run", die)
    cmds = [Command(tmp_path / f"{n}.log", [n]) for n in ("ok1", "die", "ok2", "ok3")]
    assert [r.rc for r in run_batch(cmds, jobs=2)] == [0, 9, 0, 0]


def test_a_terminated_batch_takes_its_workers_with_it(tmp_path):
    """bin/jobs.sh stops a batch by signalling its process group (Ctrl-C, kill): the workers,
    in the same group, stop too, and no command runs on."""
    import signal
    import subprocess
    import time

    marker = tmp_path / "ran_on"
    script = tmp_path / "batch.py"
    script.write_text(f"""
import time
import svtk.cli
from svtk.batch import Command, run_batch

def slow(argv):
    time.sleep(3)
    open({str(marker)!r}, "a").write(argv[0])
    return 0

svtk.cli.run = slow
run_batch([Command(__import__("pathlib").Path({str(tmp_path)!r}) / f"{{i}}.log", [str(i)])
           for i in range(4)], jobs=2)
""")
    p = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    time.sleep(1.5)  # the two workers are in their first command
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(timeout=10)
    time.sleep(3.5)
    assert not marker.exists()
    assert subprocess.run(["pgrep", "-f", str(script)], capture_output=True).stdout == b""


def test_read_commands_parses_dependencies_on_earlier_commands(tmp_path):
    f = tmp_path / "cmds.txt"
    f.write_text("exp/a.log svtk train --phase a\n"
                 "after=exp/a.log after=exp/elsewhere.log exp/b.log svtk decode --exp-dir x\n")
    a, b = read_commands(f)
    assert a.after == () and b.after == (Path("exp/a.log"), Path("exp/elsewhere.log"))
    assert b.argv == ["decode", "--exp-dir", "x"]
    for bad in ("after=exp/b.log exp/a.log svtk x\nexp/b.log svtk y\n",  # a later command
                "after=exp/a.log exp/a.log svtk x\n"):  # itself
        f.write_text(bad)
        with pytest.raises(UserError, match="cmds.txt:1: a command can only wait for earlier"):
            read_commands(f)


def timed_run(argv):
    """svtk.cli.run stand-in: sleeps argv[1] s, exits argv[2], records when it ran."""
    import time

    start = time.monotonic()
    time.sleep(float(argv[1]))
    print(f"ran {argv[0]} {start} {time.monotonic()}")
    return int(argv[2])


def _span(log: Path) -> tuple[float, float]:
    _, _, start, end = log.read_text().split()
    return float(start), float(end)


def test_a_command_waits_for_its_dependencies_while_others_run(tmp_path, monkeypatch):
    """Worker 2 runs the independent commands queued after a blocked one (a decode of the
    all-at-once model while the curriculum trains); the blocked one starts when its
    dependency has finished. A dependency outside the batch counts as done."""
    monkeypatch.setattr(svtk.cli, "run", timed_run)
    log = tmp_path.joinpath
    cmds = [Command(log("long.log"), ["long", "1.5", "0"]),
            Command(log("short.log"), ["short", "0.2", "0"]),
            Command(log("after_long.log"), ["after_long", "0.1", "0"], (log("long.log"),)),
            Command(log("after_short.log"), ["after_short", "0.1", "0"],
                    (log("short.log"), log("not_in_batch.log"))),
            Command(log("free.log"), ["free", "0.1", "0"])]
    assert [r.rc for r in run_batch(cmds, jobs=2)] == [0] * 5
    long, after_long = _span(log("long.log")), _span(log("after_long.log"))
    assert after_long[0] >= long[1]
    assert _span(log("after_short.log"))[0] >= _span(log("short.log"))[1]
    assert _span(log("free.log"))[1] <= long[1]  # ran beside the long one, not after it


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failed_dependency_fails_its_dependents_without_running_them(tmp_path, monkeypatch,
                                                                        jobs):
    monkeypatch.setattr(svtk.cli, "run", timed_run)
    log = tmp_path.joinpath
    cmds = [Command(log("train.log"), ["train", "0.1", "3"]),
            Command(log("decode.log"), ["decode", "0", "0"], (log("train.log"),)),
            Command(log("score.log"), ["score", "0", "0"], (log("decode.log"),)),
            Command(log("other.log"), ["other", "0", "0"])]
    assert [r.rc for r in run_batch(cmds, jobs=jobs)] == [3, 1, 1, 0]
    assert log("decode.log").read_text().startswith(f"not run: {log('train.log')} failed")
    assert log("score.log").read_text().startswith(f"not run: {log('decode.log')} failed")
    assert log("other.log").read_text().startswith("ran other")


def test_a_batched_command_records_its_own_command_line(tmp_path):
    """The cmd.sh and run_info.json of a directory that a command run by svtk batch made name
    that command, not `svtk batch ... /tmp/svtk-jobs.XXXX` (a file gone by then)."""
    from svtk.testing.training import make_task_cuts

    cuts = make_task_cuts(tmp_path / "toy", tasks=("asr",), n_train=2, n_dev=2)
    out = tmp_path / "fbank"
    argv = ["data", "fbank", "--cuts", str(cuts["dev"]), "--split", "dev", "--out-dir", str(out)]
    before = list(sys.argv)
    [result] = run_batch([Command(tmp_path / "fbank.log", argv)], jobs=1, threads=1)
    assert result.rc == 0, result.command.log.read_text()
    line = shlex.join(["svtk", *argv])
    assert json.loads((out / "run_info.json").read_text())["command"] == line
    replay = (out / "cmd.sh").read_text().splitlines()[-1]
    assert replay.startswith("OMP_NUM_THREADS=1 ") and replay.endswith(f' {line} "$@"'), replay
    assert sys.argv == before  # the process's own arguments are back


def test_commands_run_here_leave_the_callers_thread_settings_as_they_were(tmp_path, monkeypatch):
    import torch

    seen = []
    monkeypatch.setattr(svtk.cli, "run", lambda argv: seen.append(
        (os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads())) or 0)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run_batch([Command(tmp_path / "a.log", ["a"])], jobs=1, threads=1)
        assert seen == [("1", 1)]  # the command ran with the batch's threads
        assert os.environ["OMP_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in os.environ
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
