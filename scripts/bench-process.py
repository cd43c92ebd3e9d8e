#!/usr/bin/env python3
"""Whole-process comparisons for docs/BENCHMARKS.md (called by scripts/bench).

Each section prints progress to stderr and adds one entry to the JSON written
to --out: {"status": "ok", ...figures...} or {"status": "skipped", "reason": ...}.
Every server binds 127.0.0.1; every process started here is stopped by PID;
every wait is bounded.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "YmVuY2gtdG9rZW4tbm90LWEtc2VjcmV0"  # a dummy token for the local stub


def log(msg: str) -> None:
    print(f"bench-process: {msg}", file=sys.stderr, flush=True)


def vm_document() -> bytes:
    """The VM document the official client received in the reference run."""
    path = ROOT / "tests/vectors/onegate/reference-client-results.jsonl"
    for line in path.read_text().splitlines():
        case = json.loads(line)
        if case["case"] == "vm_show_json":
            return case["stdout"].encode()
    raise SystemExit(f"{path}: no vm_show_json case")


class Stub(http.server.BaseHTTPRequestHandler):
    """A OneGate stand-in: GET /vm, GET /service, GET /vms/:id, PUT /vm."""

    protocol_version = "HTTP/1.1"
    vm = b"{}"
    service = b"{}"
    puts = 0

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype="application/json;charset=utf-8"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        if self.headers.get("X-ONEGATE-TOKEN") != TOKEN or not self.headers.get("X-ONEGATE-VMID"):
            self._send(401, b"Not authorized", "text/plain")
            return False
        return True

    def do_GET(self):
        if not self._authorised():
            return
        if self.path == "/vm" or self.path.startswith("/vms/"):
            self._send(200, Stub.vm)
        elif self.path.startswith("/service"):
            self._send(200, Stub.service)
        else:
            self._send(400, b"unknown route", "text/plain")

    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        if not self._authorised():
            return
        Stub.puts += 1
        self._send(200, b"")


class StubServer:
    def __enter__(self):
        Stub.vm = vm_document()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def run_bounded(argv, env=None, timeout=60, **kw):
    return subprocess.run(argv, env=env, timeout=timeout, capture_output=True, **kw)


def max_rss_kb(argv, env, runs: int) -> list[int]:
    """Peak RSS (KiB, /usr/bin/time %M) of `runs` runs; each must succeed."""
    out = []
    for _ in range(runs):
        p = run_bounded(["/usr/bin/time", "-f", "%M", *argv], env=env)
        if p.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({p.returncode}): {p.stderr.decode()[-300:]}")
        out.append(int(p.stderr.decode().strip().splitlines()[-1]))
    return out


def hyperfine(commands: dict[str, list[str]], env, runs: int, warmup: int) -> dict[str, dict]:
    """Median wall time (ms) of each command, no shell in between."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "hf.json"
        argv = ["hyperfine", "-N", "--warmup", str(warmup), "--runs", str(runs),
                "--export-json", str(out), "--style", "none"]
        for name, cmd in commands.items():
            argv += ["-n", name, shlex.join(cmd)]
        p = run_bounded(argv, env=env, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"hyperfine failed: {p.stderr.decode()[-500:]}")
        res = json.loads(out.read_text())["results"]
    return {r["command"]: {"median_ms": r["median"] * 1000, "mean_ms": r["mean"] * 1000,
                           "stddev_ms": (r.get("stddev") or 0) * 1000, "runs": len(r["times"])}
            for r in res}


def onegate_show(stamen: str, runs: int) -> dict:
    if not shutil.which("curl"):
        return {"status": "skipped", "reason": "curl not installed"}
    if not shutil.which("hyperfine"):
        return {"status": "skipped", "reason": "hyperfine not installed (apt-get install hyperfine)"}
    with StubServer() as srv, tempfile.TemporaryDirectory() as d:
        endpoint = f"http://127.0.0.1:{srv.port}"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": d,
               "ONEGATE_ENDPOINT": endpoint, "VMID": "42", "TOKENTXT": TOKEN}
        # The token goes to curl through a header file, never argv.
        hdr = Path(d) / "headers"
        hdr.write_text(f"X-ONEGATE-TOKEN: {TOKEN}\nX-ONEGATE-VMID: 42\n")
        cmds = {
            "stamen onegate vm show": [stamen, "onegate", "vm", "show"],
            "stamen onegate vm show --json": [stamen, "onegate", "vm", "show", "--json"],
            "curl -s -H @headers /vm": ["curl", "-sf", "-H", f"@{hdr}", f"{endpoint}/vm"],
        }
        ruby = shutil.which("ruby")
        if ruby:
            # Not the official client (one-context's onegate.rb is not
            # installed here): the least it does for `vm show` — Ruby start,
            # net/http GET with the two headers, JSON.parse — as a lower bound.
            rb = Path(d) / "get_vm.rb"
            rb.write_text(
                "require 'net/http'\nrequire 'json'\n"
                "uri = URI(ENV['ONEGATE_ENDPOINT'] + '/vm')\n"
                "req = Net::HTTP::Get.new(uri)\n"
                "req['X-ONEGATE-TOKEN'] = ENV['TOKENTXT']\nreq['X-ONEGATE-VMID'] = ENV['VMID']\n"
                "res = Net::HTTP.start(uri.host, uri.port) { |h| h.request(req) }\n"
                "exit 1 unless res.code == '200'\n"
                "puts JSON.parse(res.body)['VM']['NAME']\n")
            cmds["ruby net/http GET + JSON.parse (lower bound of onegate.rb)"] = [ruby, str(rb)]
        for name, cmd in cmds.items():
            p = run_bounded(cmd, env=env)
            if p.returncode != 0:
                return {"status": "failed", "reason": f"{name}: exit {p.returncode}: {p.stderr.decode()[-300:]}"}
        ours = run_bounded(cmds["stamen onegate vm show --json"], env=env).stdout
        theirs = run_bounded(cmds["curl -s -H @headers /vm"], env=env).stdout
        same = json.loads(ours) == json.loads(theirs)
        times = hyperfine(cmds, env, runs, warmup=3)
        rss = {name: max_rss_kb(cmd, env, max(5, runs // 4)) for name, cmd in cmds.items()}
        # Process floors: the same binaries doing no request at all.
        floors = {"stamen --version": [stamen, "--version"], "curl --version": ["curl", "--version"]}
        floor_rss = {name: statistics.median(max_rss_kb(cmd, env, 5)) for name, cmd in floors.items()}
    client = shutil.which("onegate")
    note = (f"found at {client} but not run (its configuration differs)" if client else
            "the official client (one-context's onegate.rb) is not installed here: not measured"
            + ("; Ruby itself is, so a minimal net/http + JSON client of the same request is measured as a lower bound"
               if ruby else "; no Ruby either"))
    return {"status": "ok", "times": times,
            "rss_kb": {k: statistics.median(v) for k, v in rss.items()},
            "rss_runs": {k: v for k, v in rss.items()},
            "floor_rss_kb": floor_rss,
            "same_document": same,
            "ruby_onegate": note}


def expr_process(stamen: str, runs: int) -> dict:
    cmd = [stamen, "expr", "CPU > 80 && MEMORY < 1048576", "--vars", "CPU=82.88", "MEMORY=524288"]
    p = run_bounded(cmd)
    if p.returncode not in (0, 1):
        return {"status": "failed", "reason": f"exit {p.returncode}: {p.stderr.decode()[-300:]}"}
    cmds = {"stamen expr": cmd}
    ruby = shutil.which("ruby")
    stand_in = None
    if not ruby:
        note = "skipped: Ruby is not installed"
    elif run_bounded([ruby, "-e", "require 'treetop'"]).returncode != 0:
        note = ("skipped: OneFlow's code is not on this machine, and the treetop gem is not "
                "installed for a stand-in (apt-get install ruby-treetop)")
    else:
        note = ("OneFlow's own code is not on this machine; measured instead: "
                "`scripts/bench-expr.rb`, a Ruby + Treetop evaluator of the same grammar written "
                "for this benchmark (not OneFlow's code, no trace)")
        stand_in = [ruby, str(ROOT / "scripts/bench-expr.rb"), cmd[2], "CPU=82.88", "MEMORY=524288"]
        q = run_bounded(stand_in)
        if q.returncode != 0 or q.stdout.decode().strip() != "true":
            return {"status": "failed", "reason": f"bench-expr.rb: exit {q.returncode}: {q.stderr.decode()[-300:]}"}
        cmds["ruby + treetop stand-in (scripts/bench-expr.rb)"] = stand_in
    times = hyperfine(cmds, os.environ.copy(), runs, warmup=3)
    rss = {name: statistics.median(max_rss_kb(c, os.environ.copy(), 5)) for name, c in cmds.items()}
    return {"status": "ok", "times": times, "rss_kb": rss["stamen expr"], "rss_all_kb": rss,
            "stdout": p.stdout.decode().strip(), "ruby_oneflow": note}


def proc_cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (after state at index 0)


def proc_status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def run_idle(stamen: str, seconds: int) -> dict:
    help_text = run_bounded([stamen, "--help"]).stdout.decode()
    if " run " not in help_text and "\n  run" not in help_text:
        return {"status": "skipped", "reason": "`stamen run` not in this build (branch run not merged)"}
    with StubServer() as srv, tempfile.TemporaryDirectory() as d:
        ctx = Path(d) / "context.sh"
        ctx.write_text(
            "# Context variables generated by OpenNebula\n"
            f"FL_SUPERLINK_ADDRESS='127.0.0.1:{srv.port}'\n"
            "FL_TLS_ENABLED='NO'\n"
            f"ONEGATE_ENDPOINT='http://127.0.0.1:{srv.port}'\n"
            f"ONEGATE_TOKEN='{TOKEN}'\n"
            "TOKEN='YES'\n"
            "VMID='42'\n")
        sock = Path(d) / "status.sock"
        argv = [stamen, "run", "--context", str(ctx), "--status-socket", str(sock),
                "--ca-file", str(Path(d) / "ca.pem"),
                # The stand-in child: a shell sleeping; {superlink} (its $1)
                # keeps the generated flower-supernode flags off its argv.
                "--supernode-cmd", "sh -c 'exec sleep 86400' stand-in {superlink}"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(Path(d) / "log", "wb"),
                                env={"PATH": os.environ.get("PATH", ""), "HOME": d})
        try:
            time.sleep(3)  # start-up: context, probe, first publish
            if proc.poll() is not None:
                return {"status": "failed",
                        "reason": f"stamen run exited {proc.returncode}: {(Path(d) / 'log').read_text()[-400:]}"}
            hz = os.sysconf("SC_CLK_TCK")
            t0, c0 = time.monotonic(), proc_cpu_ticks(proc.pid)
            rss_samples = []
            while time.monotonic() - t0 < seconds:
                rss_samples.append(proc_status(proc.pid, "VmRSS"))
                time.sleep(1)
            t1, c1 = time.monotonic(), proc_cpu_ticks(proc.pid)
            hwm = proc_status(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    cpu_s = (c1 - c0) / hz
    return {"status": "ok", "seconds": round(t1 - t0, 1), "cpu_seconds": cpu_s,
            "cpu_percent": 100 * cpu_s / (t1 - t0), "rss_kb_median": statistics.median(rss_samples),
            "rss_kb_peak": hwm, "onegate_puts": Stub.puts, "clock_ticks_per_s": hz}


PY_EVAL = r'''
import re, timeit, json, sys

# A small pure-Python evaluator of OneFlow's grammar (comparisons joined by
# &&/|| grouping right, parentheses, !), enough for the benchmark expression.
TOK = re.compile(r"\s*(&&|\|\||&|\||!=|<>|==|>=|<=|=|>|<|!|\(|\)|-?\d+(?:\.\d+)?|[A-Za-z][A-Za-z0-9_]*)")
def tokens(s):
    pos, out = 0, []
    s = s.rstrip()
    while pos < len(s):
        m = TOK.match(s, pos)
        if not m:
            raise ValueError(f"bad input at {pos}")
        out.append(m.group(1)); pos = m.end()
    return out
OPS = {"==": lambda a, b: a == b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
       "<>": lambda a, b: a != b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
       "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
def evaluate(src, vars):
    t = tokens(src); i = 0
    def operand():
        nonlocal i
        tok = t[i]; i += 1
        if tok[0].isdigit() or tok[0] == "-":
            return float(tok)
        v = vars.get(tok.upper())
        return None if v is None else float(v)
    def expression():
        nonlocal i
        left = cond()
        if i < len(t) and t[i] in ("&&", "&", "||", "|"):
            op = t[i]; i += 1
            right = expression()
            return (left and right) if op in ("&&", "&") else (left or right)
        return left
    def cond():
        nonlocal i
        if t[i] == "!":
            i += 1
            return not expression()
        if t[i] == "(":
            i += 1
            v = expression(); i += 1
            return v
        a = operand(); op = t[i]; i += 1; b = operand()
        return False if a is None or b is None else OPS[op](a, b)
    v = expression()
    if i != len(t):
        raise ValueError("trailing input")
    return v

import stamen
EXPR = "CPU > 80 && MEMORY < 1048576"
VARS = {"CPU": "82.88", "MEMORY": "524288"}
assert evaluate(EXPR, VARS) is True
assert stamen.evaluate(EXPR, vars=VARS).value is True
compiled = stamen.Expression(EXPR)
n = int(sys.argv[1])
res = {}
for name, fn in [("stamen.evaluate", lambda: stamen.evaluate(EXPR, vars=VARS)),
                 ("stamen.Expression.evaluate (compiled once)", lambda: compiled.evaluate(vars=VARS)),
                 ("pure-Python evaluator", lambda: evaluate(EXPR, VARS))]:
    best = min(timeit.repeat(fn, number=n, repeat=7))
    reps = sorted(x / n * 1e6 for x in timeit.repeat(fn, number=n, repeat=7))
    res[name] = {"median_us": reps[len(reps) // 2], "best_us": best / n * 1e6}
print(json.dumps(res))
'''


def python_overhead(python: str, n: int) -> dict:
    p = run_bounded([python, "-c", "import stamen; stamen.evaluate"])
    if p.returncode != 0:
        return {"status": "skipped",
                "reason": f"the stamen Python package is not importable with {python}: {p.stderr.decode().strip().splitlines()[-1] if p.stderr else ''}"}
    p = run_bounded([python, "-c", PY_EVAL, str(n)], timeout=300)
    if p.returncode != 0:
        return {"status": "failed", "reason": p.stderr.decode()[-500:]}
    return {"status": "ok", "python": python, "results": json.loads(p.stdout)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stamen", required=True)
    ap.add_argument("--python", default=None, help="Python with the stamen package installed")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--idle-seconds", type=int, default=None)
    a = ap.parse_args()
    runs = 15 if a.quick else 60
    idle = a.idle_seconds or (10 if a.quick else 60)
    out = {}
    for name, fn in [("onegate_show", lambda: onegate_show(a.stamen, runs)),
                     ("expr_process", lambda: expr_process(a.stamen, runs)),
                     ("run_idle", lambda: run_idle(a.stamen, idle)),
                     ("python_overhead", lambda: python_overhead(a.python, 2000 if a.quick else 20000)
                      if a.python else {"status": "skipped", "reason": "no Python with the stamen package given"})]:
        log(name)
        try:
            out[name] = fn()
        except Exception as e:  # report, never hide
            out[name] = {"status": "failed", "reason": f"{type(e).__name__}: {e}"}
        log(f"{name}: {out[name].get('status')} {out[name].get('reason', '')}")
    Path(a.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
