"""hack/lib/supervisor.sh and hack/lib/process.sh with real processes, no cluster.

Covers: a daemon killed with SIGKILL is started again after the restart delay with a new pid, and
the exit is logged with its status, signal name and log tail; a daemon that keeps failing hits
the start-rate limit (logged, next start held off) instead of spinning; the records name the
supervisor and daemon by pid and start time; SIGTERM to a supervisor stops its daemon and starts
nothing more; `arktos::process::stop_all` run by another process (as
the reaper runs it) stops a daemon whose supervisor was killed outright, and never signals a pid
whose start time no longer matches the record. Leaves out the components themselves (the slow
fault suite, test_component_faults.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apiserver_process import REPO_ROOT

WAIT_S = 15.0

# A supervisor started the way arktos-up.sh starts one, in the background of a bash that then waits.
SUPERVISE = """
source "{root}/hack/lib/init.sh"
mkdir -p "$ARKTOS_RUN_DIR"
daemon() {{ echo "daemon $BASHPID says hello"; exec {command}; }}
arktos::process::supervise {name} "$LOG_DIR/{name}.log" {delay} daemon
wait
"""


def bash_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"ARKTOS_DATA_DIR": str(tmp_path / "data"), "LOG_DIR": str(tmp_path),
                "ARKTOS_STOP_TIMEOUT": "3", **extra})
    return env


def eventually(what: str, check: Callable[[], bool], output: Callable[[], str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {WAIT_S}s:\n{output()}")
        time.sleep(0.05)


class Supervised:
    """One `bash -c` that supervises a daemon; its output is read from a file."""

    def __init__(self, tmp_path: Path, *, name: str, command: str, delay: str, **env: str) -> None:
        self.run_dir = tmp_path / "data" / "run"
        self.out = tmp_path / "supervisor.out"
        self.name = name
        script = SUPERVISE.format(root=REPO_ROOT, name=name, command=command, delay=delay)
        with self.out.open("w") as out:
            self.process = subprocess.Popen(["bash", "-c", script], env=bash_env(tmp_path, **env),
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.out.read_text()

    def started_daemon(self) -> tuple[int, str]:
        """The first daemon, once its pid file is written."""
        eventually("the daemon's pid file", lambda: self.daemon() is not None, self.output)
        daemon = self.daemon()
        assert daemon is not None
        return daemon

    def daemon(self) -> tuple[int, str] | None:
        try:
            pid, start = (self.run_dir / f"{self.name}.pid").read_text().split()
        except (OSError, ValueError):
            return None
        return int(pid), start

    def supervisor_pid(self) -> int:
        return int((self.run_dir / "components").read_text().split()[1])

    def supervisor_start(self) -> str:
        return (self.run_dir / "components").read_text().split()[2]

    def exits(self) -> list[str]:
        path = self.run_dir / f"{self.name}.exits"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[list[Supervised]]:
    made: list[Supervised] = []
    yield made
    for one in made:
        daemon = one.daemon()
        one.stop()
        if daemon is not None and alive(daemon[0]):
            os.kill(daemon[0], signal.SIGKILL)


def stop_all(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`arktos::process::stop_all` in a process of its own, as the reaper runs it."""
    script = f'source "{REPO_ROOT}/hack/lib/init.sh"; arktos::process::stop_all'
    return subprocess.run(["bash", "-c", script], env=bash_env(tmp_path), capture_output=True, text=True,
                          timeout=WAIT_S)


def start_time(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killed_daemon_comes_back_with_its_exit_logged(tmp_path: Path, supervised: list[Supervised]) -> None:
    one = Supervised(tmp_path, name="sleeper", command="sleep 300", delay="0.3")
    supervised.append(one)
    first = one.started_daemon()
    os.kill(first[0], signal.SIGKILL)
    eventually("a new daemon", lambda: (d := one.daemon()) is not None and d[0] != first[0] and alive(d[0]),
               one.output)
    eventually("the restart logged", lambda: "sleeper started again (pid" in one.output(), one.output)
    output = one.output()
    exited = f"sleeper (pid {first[0]}) exited with status 137 (signal KILL); restarting sleeper in 0.3s"
    assert exited in output
    assert f"last 20 lines of {tmp_path}/sleeper.log" in output and "daemon" in output
    assert "Killed" not in output, "bash's own job notice must not reach the log"
    assert [line.split()[1] for line in one.exits()] == ["137"]


def test_crash_loop_hits_the_start_limit(tmp_path: Path, supervised: list[Supervised]) -> None:
    one = Supervised(tmp_path, name="crasher", command="false", delay="0",
                     ARKTOS_START_LIMIT_BURST="3", ARKTOS_START_LIMIT_INTERVAL="30")
    supervised.append(one)
    eventually("the start limit", lambda: "start limit hit" in one.output(), one.output)
    time.sleep(1.0)  # held off: no fourth start within the interval
    assert len(one.exits()) == 3
    assert "crasher: start limit hit (3 starts within 30s); next start in" in one.output()
    assert "crasher (pid" in one.output() and "exited with status 1; restarting crasher in 0s" in one.output()


def test_sigterm_stops_the_daemon_and_nothing_restarts(tmp_path: Path, supervised: list[Supervised]) -> None:
    one = Supervised(tmp_path, name="sleeper", command="sleep 300", delay="0.1")
    supervised.append(one)
    daemon = one.started_daemon()
    assert start_time(one.supervisor_pid()) == one.supervisor_start(), "the record names another process"
    assert start_time(daemon[0]) == daemon[1]
    os.kill(one.supervisor_pid(), signal.SIGTERM)
    eventually("daemon and supervisor gone", lambda: not alive(daemon[0]) and not alive(one.supervisor_pid()),
               one.output)
    time.sleep(0.5)
    assert one.daemon() == daemon, "nothing may start after the supervisor was stopped"


def test_stop_all_from_another_process_finds_orphaned_daemons(tmp_path: Path,
                                                               supervised: list[Supervised]) -> None:
    one = Supervised(tmp_path, name="sleeper", command="sleep 300", delay="0.1")
    supervised.append(one)
    daemon = one.started_daemon()
    # As a SIGKILL of arktos-up's process group would: supervisor and script, not the daemon
    # (which does not die with them here: it may be in a session of its own, as containerd is).
    os.kill(one.supervisor_pid(), signal.SIGKILL)
    os.kill(one.process.pid, signal.SIGKILL)
    one.process.wait()
    assert alive(daemon[0]), "the daemon outlives its supervisor until someone stops it"
    stopped = stop_all(tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopping sleeper (pid {daemon[0]})" in stopped.stdout
    eventually("the orphaned daemon stopped", lambda: not alive(daemon[0]), lambda: stopped.stdout)


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        run_dir = tmp_path / "data" / "run"
        run_dir.mkdir(parents=True)
        # The bystander's pid as supervisor and as daemon, each with a start time that is not its own.
        (run_dir / "components").write_text(f"ghost {bystander.pid} 999999999 {tmp_path}/ghost.log\n")
        (run_dir / "ghost.pid").write_text(f"{bystander.pid} 999999999\n")
        stopped = stop_all(tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        assert bystander.poll() is None, "a pid whose start time differs from the record was signalled"
    finally:
        bystander.kill()
        bystander.wait()
