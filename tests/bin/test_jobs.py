"""bin/jobs.sh: queued recipe commands run side by side with a share of the cores each, or in the
foreground when alone; a failure shows its log and stops the recipe; an interrupt stops the jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HEADER = """\
set -euo pipefail
nj={nj}
. {root}/bin/jobs.sh
say() {{ echo "$1 threads=${{OMP_NUM_THREADS:-all}}"; sleep "$2"; [ "$1" != bad ] || exit 3; }}
"""


def run(tmp_path: Path, body: str, nj: int = 2, env: dict | None = None, **kw):
    script = tmp_path / "recipe.sh"
    script.write_text(HEADER.format(nj=nj, root=ROOT) + body)
    e = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    e.update(env or {})
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, cwd=tmp_path,
                          env=e, **kw)


def test_jobs_run_side_by_side_with_a_share_of_the_cores(tmp_path):
    r = run(tmp_path, """
job logs/a.log say a 0
job logs/b.log say "b x" 0
run_jobs
echo after
""")
    assert r.returncode == 0, r.stderr
    threads = max(1, (os.cpu_count() or 1) // 2)
    assert (tmp_path / "logs/a.log").read_text() == f"a threads={threads}\n"
    assert (tmp_path / "logs/b.log").read_text() == f"b x threads={threads}\n"  # quoting kept
    assert "2 jobs, 2 at a time" in r.stderr and "2 jobs done" in r.stderr
    assert r.stdout == "after\n"  # the jobs' output went to their logs


def test_jobs_overlap_but_never_more_than_nj(tmp_path):
    r = run(tmp_path, """
probe() { echo "$(date +%s.%N) start"; sleep 0.6; echo "$(date +%s.%N) end"; }
for i in 1 2 3 4; do job logs/$i.log probe; done
run_jobs
""")
    assert r.returncode == 0, r.stderr
    events = []
    for i in range(1, 5):
        for line in (tmp_path / f"logs/{i}.log").read_text().splitlines():
            t, what = line.split()
            events.append((float(t), +1 if what == "start" else -1))
    running, most = 0, 0
    for _, d in sorted(events):
        running += d
        most = max(most, running)
    assert most == 2


def test_one_job_runs_in_the_foreground_with_every_core(tmp_path):
    r = run(tmp_path, """
job logs/solo.log say solo 0
run_jobs
""")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "solo threads=all\n"  # on the terminal, no thread limit, no log file
    assert not (tmp_path / "logs").exists()


def test_nj_1_runs_the_queue_in_order_in_the_foreground(tmp_path):
    r = run(tmp_path, """
job logs/a.log say a 0.2
job logs/b.log say b 0
run_jobs
""", nj=1)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "a threads=all\nb threads=all\n"


def test_a_failed_job_shows_its_log_and_stops_the_recipe(tmp_path):
    r = run(tmp_path, """
job logs/bad.log say bad 0
job logs/good.log say good 0.5
run_jobs
echo not reached
""")
    assert r.returncode == 1
    assert "not reached" not in r.stdout
    assert "FAILED (exit 3)" in r.stderr and "bad threads=" in r.stderr  # the log's tail
    assert "1 of 2 jobs failed" in r.stderr
    assert (tmp_path / "logs/good.log").read_text().startswith("good")  # the other one finished


def test_interrupt_stops_the_running_jobs(tmp_path):
    marker = tmp_path / "still_running"
    script = tmp_path / "recipe.sh"
    script.write_text(HEADER.format(nj=2, root=ROOT) + f"""
slow() {{ sleep 2; touch {marker}; }}
job logs/a.log slow
job logs/b.log slow
run_jobs
""")
    p = subprocess.Popen(["bash", str(script)], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    time.sleep(0.7)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=10)
    assert p.returncode == 130
    assert "interrupted" in err
    time.sleep(2.0)
    assert not marker.exists()  # the sleeping jobs (and their children) were stopped


def _with_svtk(env=None):
    """PATH with this interpreter's bin dir (the svtk console script) first."""
    import sys

    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**(env or {}), "PATH": path}


def test_a_queue_of_svtk_commands_goes_to_svtk_batch(tmp_path):
    r = run(tmp_path, """
job logs/v.log svtk --version
job logs/bad.log svtk average --out x.safetensors --last 1 "no such dir"
job logs/v2.log svtk --version
run_jobs
echo not reached
""", env=_with_svtk())
    assert r.returncode == 1, r.stderr
    assert "not reached" not in r.stdout
    assert (tmp_path / "logs/v.log").read_text().startswith("svtk ")
    assert (tmp_path / "logs/v2.log").read_text().startswith("svtk ")  # the others still ran
    assert "--last N takes exactly one directory" in (tmp_path / "logs/bad.log").read_text()
    assert "(svtk batch) FAILED (exit 2): svtk average" in r.stderr  # with its log's tail
    assert "1 of 3 jobs failed" in r.stderr


def test_svtk_commands_mixed_with_shell_functions_run_as_shell_jobs(tmp_path):
    r = run(tmp_path, """
job logs/v.log svtk --version
job logs/a.log say a 0
run_jobs
""", env=_with_svtk())
    assert r.returncode == 0, r.stderr
    assert "svtk batch" not in r.stderr and "2 jobs done" in r.stderr
    assert (tmp_path / "logs/v.log").read_text().startswith("svtk ")


def test_after_waits_for_a_job_and_skips_its_dependents_when_it_fails(tmp_path):
    """Shell jobs: a job with --after starts once the job writing that log has finished, and
    is not run when that job failed (the recipe then stops, as for any failed job)."""
    r = run(tmp_path, """
probe() { echo "$1 $(date +%s.%N) start"; sleep "$2"; echo "$1 $(date +%s.%N) end"; }
job logs/train.log probe train 0.6
job logs/bad.log say bad 0
job --after logs/train.log logs/decode.log probe decode 0
job --after logs/bad.log --after logs/train.log logs/never.log say never 0
job --after logs/elsewhere.log logs/free.log say free 0
run_jobs
""")
    assert r.returncode == 1
    train = (tmp_path / "logs/train.log").read_text().split()
    decode = (tmp_path / "logs/decode.log").read_text().split()
    assert float(decode[1]) >= float(train[4])  # started after train ended
    assert (tmp_path / "logs/never.log").read_text() == "not run: logs/bad.log failed\n"
    assert (tmp_path / "logs/free.log").read_text().startswith("free")
    assert "2 of 5 jobs failed" in r.stderr


def test_after_reaches_svtk_batch(tmp_path):
    r = run(tmp_path, """
job logs/bad.log svtk average --out x.safetensors --last 1 "no such dir"
job --after logs/bad.log logs/skipped.log svtk --version
job logs/v.log svtk --version
job --after "logs/v.log" logs/v2.log svtk --version
run_jobs
""", env=_with_svtk())
    assert r.returncode == 1, r.stderr
    assert (tmp_path / "logs/skipped.log").read_text().startswith("not run: logs/bad.log failed")
    assert (tmp_path / "logs/v2.log").read_text().startswith("svtk ")
    assert "2 of 4 jobs failed" in r.stderr
