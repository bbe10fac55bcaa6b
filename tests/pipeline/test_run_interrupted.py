"""Interrupting `mlpipe run` (SIGTERM from a CI timeout or `kill`, SIGINT from Ctrl-C) ends its stage
processes and records the run as `interrupted`: a real `mlpipe run` on an Adult subsample, signalled
while a stage process runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every live, non-zombie process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            found[int(entry.name)] = (int(ppid), cmdline)
    return found


def _descendants(root: int) -> dict[int, str]:
    table = _processes()
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, cmdline) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = cmdline
                frontier.append(pid)
    return found


SERVER = "multiprocessing.forkserver"  # the stage server (mlpipe/run/preimported.py) and its forks


def _stage_processes(root: int) -> dict[int, str]:
    """Stage processes under the run: kfp's executor started fresh, or forked by the stage server
    (a fork keeps the server's command line, which names the modules it imports)."""
    table = _processes()
    return {
        pid: cmd
        for pid, cmd in _descendants(root).items()
        if ("kfp.dsl.executor_main" in cmd and SERVER not in cmd)
        or (SERVER in cmd and SERVER in table.get(table.get(pid, (0, ""))[0], (0, ""))[1])
    }


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signalled_run_ends_its_stage_processes_and_says_interrupted(
    tmp_path, adult_subsample, repo_root, signum, exit_code
):
    sample = adult_subsample(tmp_path / "data", 3000, 1500, changes={"tuning.enabled": False})
    runs = tmp_path / "runs"
    mlpipe = Path(sys.executable).with_name("mlpipe")
    run = subprocess.Popen(
        [str(mlpipe), "run", "--config", str(sample.config), "--output", str(runs)],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so the test can always clean up after itself
    )
    try:
        deadline = time.monotonic() + 180
        stages: dict[int, str] = {}
        while not stages and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
            stages = _stage_processes(run.pid)
        assert stages, (
            f"no stage process started: {run.communicate()[0][-3000:] if run.poll() is not None else ''}"
        )
        time.sleep(0.5)  # inside the stage (its imports alone take seconds)
        watched = {**stages, **_descendants(next(iter(stages)))}
        os.kill(run.pid, signum)  # only the runner: ending its stages is its job
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()

    assert run.returncode == exit_code, output[-3000:]
    time.sleep(0.5)
    alive = _processes()
    assert not [pid for pid in watched if pid in alive], "stage processes survived the run"
    assert not [cmd for _, cmd in alive.values() if str(runs) in cmd], "a process of the run survived"
    summary = json.loads((runs / "latest" / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["signal"] == signal.Signals(signum).name and summary["exit_code"] == exit_code
    *done, stopped = summary["stages"]
    assert stopped["status"] == "interrupted" and summary["failed_stage"] == stopped["name"]
    assert all(stage["status"] == "succeeded" for stage in done)
    assert signal.Signals(signum).name in summary["error"]
    assert f"INTERRUPTED at stage {stopped['name']}" in output
