"""End to end on loopback: `stamen gate` + a real Flower SuperLink + two `stamen run`
agents supervising real SuperNodes + a numpy FedAvg app whose ClientApp uses
`stamen.flower.status_mod` (SPEC §4, §8).

What it proves, from the emulator's OneGate state (polled every ~50 ms):
- each agent discovers the SuperLink through OneGate and publishes FL_NODE_READY;
- FL_CLIENT_STATUS goes 3 → 1 → (2 → 1) × 3 with FL_ROUND_NUMBER 1, 2, 3, i.e. the
  mod's datagrams reach the agent from every new flwr-clientapp process (the socket
  path travels in STAMEN_STATUS_SOCKET through flower-supernode → flower-superexec →
  flwr-clientapp; one agent is given the path in its environment, the other with
  --status-socket);
- killing the SuperLink makes both nodes DISCONNECTED (3); restarting it with the
  same --database brings them back to IDLE and a new run trains again;
- stopping the agents leaves FL_CLIENT_STATUS = 3.

Skips (with the reason) only when the `stamen` binary is not built. Every wait is
bounded; every process is started in its own session and stopped by PID (with its
whole process tree) on teardown.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV_BIN = Path(sys.executable).parent


def _stamen_bin() -> Optional[Path]:
    env = os.environ.get("STAMEN_BIN")
    candidates = [Path(env)] if env else [REPO / "target" / "debug" / "stamen", REPO / "target" / "release" / "stamen"]
    return next((p for p in candidates if p.is_file() and os.access(p, os.X_OK)), None)


STAMEN = _stamen_bin()
if STAMEN is None:
    pytest.skip(
        "the `stamen` binary is not built: run `cargo build -p stamen-agent` "
        "(or set STAMEN_BIN); looked in target/debug and target/release",
        allow_module_level=True,
    )

ROUNDS = 3
TRAIN_SECONDS = 1.5  # > the agent's --min-publish-interval-ms, so TRAINING is published
POLL_INTERVAL = 0.05


# --------------------------------------------------------------------------- processes


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def _descendants(pid: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def _group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(f"  {self.name}| {line}" for line in text[-lines:])


@dataclass
class Procs:
    """Processes started by the test, each in its own session; stopped by PID."""

    logdir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.logdir / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, sig: int = signal.SIGTERM, timeout: float = 20.0) -> Optional[int]:
        """Stop `proc` by PID: `sig` to its process group (it leads one), wait up to
        `timeout` s for it to exit on its own terms, then TERM/KILL whatever is left
        of its process tree (descendants that started their own session included)."""
        tree = _descendants(proc.pid)
        _signal_group(proc.pid, sig)
        try:
            code: Optional[int] = proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        tree += [p for p in _descendants(proc.pid) if p not in tree]
        for final in (signal.SIGTERM, signal.SIGKILL):
            _signal_group(proc.pid, final)
            for pid in tree:
                if _alive(pid):
                    try:
                        os.kill(pid, final)
                    except ProcessLookupError:
                        pass
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and any(_alive(p) for p in [proc.pid, *tree]):
                time.sleep(0.05)
        if code is None:
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return code

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.popen.poll() is None or _descendants(proc.pid) or _group_members(proc.pid):
                self.stop(proc, timeout=10.0)

    def tails(self) -> str:
        return "\n".join(p.tail() for p in self.procs)


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Short path: Unix socket paths are limited to ~107 bytes.
    d = Path(tempfile.mkdtemp(prefix="stamen-e2e-"))
    yield d
    if os.environ.get("STAMEN_E2E_KEEP"):
        print(f"\nkept e2e work dir: {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def procs(workdir: Path) -> Iterator[Procs]:
    p = Procs(workdir)
    try:
        yield p
    finally:
        p.stop_all()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, predicate: Callable[[], bool], timeout: float, procs: Procs) -> float:
    """Poll `predicate` until true; fail with the process logs after `timeout` s."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{procs.tails()}")


# --------------------------------------------------------------------------- OneGate


class OneGate:
    """Reads the emulator's VM documents with the VMs' own tokens."""

    def __init__(self, endpoint: str, state_dir: Path) -> None:
        self.endpoint = endpoint
        self.state_dir = state_dir

    def token(self, vmid: int) -> str:
        return (self.state_dir / f"vm-{vmid}" / "token.txt").read_text().strip()

    def get(self, path: str, vmid: int) -> Any:
        req = urllib.request.Request(
            self.endpoint + path, headers={"X-ONEGATE-TOKEN": self.token(vmid), "X-ONEGATE-VMID": str(vmid)}
        )
        with urllib.request.urlopen(req, timeout=2) as resp:  # noqa: S310 - loopback only
            return json.load(resp)

    def user_template(self, vmid: int) -> dict[str, str]:
        return dict(self.get("/vm", vmid)["VM"]["USER_TEMPLATE"])

    def role_vms(self, vmid: int, role: str) -> list[int]:
        service = self.get("/service", vmid)["SERVICE"]
        for r in service["roles"]:
            if r["name"] == role:
                return [int(n["deploy_id"]) for n in r["nodes"]]
        raise AssertionError(f"role {role} not in service: {service}")


@dataclass(frozen=True)
class Sample:
    t: float
    status: Optional[str]
    round: Optional[str]
    training: Optional[str]


class Recorder:
    """Polls the VMs' USER_TEMPLATE and keeps every change."""

    def __init__(self, gate: OneGate, vmids: list[int]) -> None:
        self.gate = gate
        self.history: dict[int, list[Sample]] = {v: [] for v in vmids}
        self.latest: dict[int, dict[str, str]] = {v: {} for v in vmids}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for vmid, hist in self.history.items():
                try:
                    ut = self.gate.user_template(vmid)
                except (OSError, urllib.error.URLError, ValueError, KeyError):
                    self.errors += 1
                    continue
                self.latest[vmid] = ut
                s = Sample(time.monotonic(), ut.get("FL_CLIENT_STATUS"), ut.get("FL_ROUND_NUMBER"), ut.get("FL_TRAINING_ACTIVE"))
                if not hist or (hist[-1].status, hist[-1].round, hist[-1].training) != (s.status, s.round, s.training):
                    hist.append(s)
            self._stop.wait(POLL_INTERVAL)

    def statuses(self, vmid: int, since: float = 0.0) -> list[tuple[str, str]]:
        """(status, round) changes since `since`, consecutive duplicates collapsed."""
        out: list[tuple[str, str]] = []
        for s in self.history[vmid]:
            if s.t < since or s.status is None:
                continue
            item = (s.status, s.round or "")
            if not out or out[-1] != item:
                out.append(item)
        return out

    def status(self, vmid: int) -> Optional[str]:
        return self.latest[vmid].get("FL_CLIENT_STATUS")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


# --------------------------------------------------------------------------- the test


def test_two_agents_report_three_fedavg_rounds_and_survive_a_superlink_restart(
    workdir: Path, procs: Procs, capsys: pytest.CaptureFixture[str]
) -> None:
    timings: dict[str, float] = {}
    assert shutil.which("flower-superlink", path=str(VENV_BIN)), f"flwr is not installed in {VENV_BIN}"
    import stamen  # the wheel under test must be importable by the ClientApp's interpreter

    # Environment shared by every process: the venv first on PATH, Flower quiet.
    flwr_home = workdir / "flwr-home"
    flwr_home.mkdir()
    base_env = {k: v for k, v in os.environ.items() if k != "STAMEN_STATUS_SOCKET"}
    base_env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        FLWR_HOME=str(flwr_home),
        FLWR_TELEMETRY_ENABLED="0",
        FLWR_DISABLE_UPDATE_CHECK="1",
        PYTHONUNBUFFERED="1",
    )
    gate_port, superlink_port = free_port(), free_port()
    node_ports = [free_port(), free_port()]

    # 1. The OneGate emulator with a superlink role (FL_ENDPOINT = our SuperLink) and two supernodes.
    service = json.loads((HERE / "service.json").read_text())
    for role in service["roles"]:
        ut = role["vm_template"].get("user_template", {})
        if "FL_ENDPOINT" in ut:
            ut["FL_ENDPOINT"] = f"127.0.0.1:{superlink_port}"
    (workdir / "service.json").write_text(json.dumps(service))
    state_dir = workdir / "state"
    procs.start(
        "gate",
        [str(STAMEN), "gate", "--service", str(workdir / "service.json"), "--listen", f"127.0.0.1:{gate_port}",
         "--state-dir", str(state_dir), "--period", "0"],
        base_env,
    )
    gate = OneGate(f"http://127.0.0.1:{gate_port}", state_dir)
    first_vm = service["first_vm_id"]

    def gate_up() -> bool:
        try:
            return bool(gate.role_vms(first_vm, "supernode"))
        except (OSError, urllib.error.URLError, ValueError):
            return False

    wait_until("the OneGate emulator", gate_up, 20, procs)
    nodes = gate.role_vms(first_vm, "supernode")
    assert len(nodes) == 2
    recorder = Recorder(gate, nodes)

    # 2. Two agents, each with its own context (from the emulator), status socket
    #    and SuperNode port. They start before the SuperLink: discovery works through
    #    OneGate, and they stay DISCONNECTED until the SuperLink answers.
    agents = []
    t0 = time.monotonic()
    for i, vmid in enumerate(nodes):
        context = state_dir / f"vm-{vmid}" / "context.sh"
        # The context the emulator wrote is valid for stamen's own parser too.
        assert stamen.EdgeConfig.from_context(context.read_bytes(), filename=str(context)).vmid == vmid
        sock = str(workdir / f"agent{i}.sock")
        # Agent 0 gets its socket path from the environment, agent 1 from
        # --status-socket: either way the agent must hand it to the SuperNode.
        env = dict(base_env, STAMEN_STATUS_SOCKET=sock) if i == 0 else base_env
        sock_args = [] if i == 0 else ["--status-socket", sock]
        agents.append(
            procs.start(
                f"agent{i}",
                [str(STAMEN), "run", "--context", str(context), *sock_args,
                 "--backoff-initial-ms", "500", "--probe-interval-ms", "300", "--probe-timeout-ms", "500",
                 "--min-publish-interval-ms", "200", "--heartbeat-ms", "60000", "--stable-ms", "5000",
                 "--stop-grace-ms", "5000", "--onegate-timeout-ms", "2000",
                 "--supernode-arg=--port", f"--supernode-arg={node_ports[i]}"],
                env,
            )
        )
    wait_until("both agents to publish DISCONNECTED before the SuperLink exists",
               lambda: all(recorder.status(v) == "3" for v in nodes), 30, procs)

    def start_superlink(name: str) -> Proc:
        return procs.start(
            name,
            [str(VENV_BIN / "flower-superlink"), "--insecure", "--port", str(superlink_port),
             "--disable-runtime-dependency-installation", "--database", str(workdir / "superlink.db")],
            base_env,
        )

    superlink = start_superlink("superlink")
    timings["nodes_idle_s"] = wait_until(
        "both nodes IDLE (SuperLink reachable)", lambda: all(recorder.status(v) == "1" for v in nodes), 90, procs
    )
    for vmid in nodes:
        ut = recorder.latest[vmid]
        assert ut.get("FL_NODE_READY") == "YES" and ut.get("FL_NODE_ID") == str(vmid), ut

    # 3. Three FedAvg rounds with the ClientApp's status_mod.
    (flwr_home / "config.toml").write_text(
        f'[superlink]\ndefault = "e2e"\n\n[superlink.e2e]\naddress = "127.0.0.1:{superlink_port}"\ninsecure = true\n'
    )
    app = workdir / "app"
    shutil.copytree(HERE / "app", app)

    def flwr_run(rounds: int, train_seconds: float, name: str) -> float:
        start = time.monotonic()
        out = subprocess.run(
            [str(VENV_BIN / "flwr"), "run", str(app), "e2e", "--stream",
             "--run-config", f"num-server-rounds={rounds} train-seconds={train_seconds}"],
            env=base_env, cwd=workdir, capture_output=True, text=True, timeout=300,
        )
        (workdir / f"{name}.log").write_text(out.stdout + out.stderr)
        assert out.returncode == 0 and "stamen-e2e final weights" in out.stdout, (
            f"flwr run failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}\n{procs.tails()}"
        )
        return time.monotonic() - start

    phase = time.monotonic()
    timings["fedavg_3_rounds_s"] = flwr_run(ROUNDS, TRAIN_SECONDS, "flwr-run-1")
    time.sleep(1.0)  # let the last IDLE reach OneGate (min publish interval 0.2 s)
    expected = [("3", "0"), ("1", "0")]
    for r in range(1, ROUNDS + 1):
        expected += [("2", str(r)), ("1", str(r))]
    for vmid in nodes:
        assert recorder.statuses(vmid) == expected, (vmid, recorder.history[vmid], procs.tails())
        # FL_TRAINING_ACTIVE is 1 exactly while TRAINING.
        for s in recorder.history[vmid]:
            if s.status is not None:
                assert s.training == ("1" if s.status == "2" else "0"), s

    # 4. SuperLink dies → both nodes DISCONNECTED; restarted with its database → IDLE again.
    phase = time.monotonic()
    procs.stop(superlink, signal.SIGTERM, timeout=20)
    wait_until(
        "both nodes DISCONNECTED after the SuperLink died", lambda: all(recorder.status(v) == "3" for v in nodes), 30, procs
    )
    timings["disconnected_after_kill_s"] = max(
        next(s.t for s in recorder.history[v] if s.t >= phase and s.status == "3") for v in nodes
    ) - phase
    superlink = start_superlink("superlink-restarted")
    timings["recovered_after_restart_s"] = wait_until(
        "both nodes IDLE after the SuperLink restarted", lambda: all(recorder.status(v) == "1" for v in nodes), 90, procs
    )
    for vmid in nodes:
        assert recorder.statuses(vmid, since=phase) == [("3", "3"), ("1", "3")], recorder.history[vmid]

    # The recovered nodes really train: one more round on the restarted SuperLink.
    phase = time.monotonic()
    timings["fedavg_1_round_after_restart_s"] = flwr_run(1, 0.5, "flwr-run-2")
    time.sleep(1.0)
    for vmid in nodes:
        assert ("2", "1") in recorder.statuses(vmid, since=phase), recorder.history[vmid]
        assert recorder.status(vmid) == "1"

    # 5. Agents stop (SIGTERM) → exit 0 and FL_CLIENT_STATUS = 3.
    for agent in agents:
        assert procs.stop(agent, signal.SIGTERM, timeout=30) == 0, agent.tail()
    wait_until("FL_CLIENT_STATUS = 3 after the agents stopped",
               lambda: all(recorder.status(v) == "3" for v in nodes), 10, procs)
    recorder.stop()
    timings["total_s"] = time.monotonic() - t0
    with capsys.disabled():
        print("\ne2e timings: " + ", ".join(f"{k}={v:.1f}" for k, v in timings.items()))
    (REPO / "target").mkdir(exist_ok=True)
    (REPO / "target" / "e2e-timings.json").write_text(json.dumps(timings, indent=1) + "\n")
