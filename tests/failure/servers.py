"""Real processes for the failure tests: gunicorn as deployed (web/gunicorn_conf.py), its worker pids, a
standard-library HTTP client that tells a connection error apart from an answer, and a diagram whose
every step writes a human task and a timer."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.context import EngineContext
from engine.db import TEST_COMMIT_DELAY, transaction
from engine.demo import Demo
from tests.helpers import ready_task, start_cases
from tests.web.helpers import API

ROOT = Path(__file__).resolve().parents[2]

# Two office steps, each guarded by a (distant) boundary timer: completing the first closes its task
# row, cancels its timer, and writes the second's task and timer — every projection moves in one step.
DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="fail_defs" targetNamespace="xuncha">
  <bpmn:process id="failure_probe" name="\xe6\x95\x85\xe9\x9a\x9c\xe6\x8e\xa2\xe9\x92\x88" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="office_lane" name="office">
      <bpmn:flowNodeRef>first</bpmn:flowNodeRef><bpmn:flowNodeRef>second</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="begin"/>
    <bpmn:sequenceFlow id="to_first" sourceRef="begin" targetRef="first"/>
    <bpmn:userTask id="first" name="first step"/>
    <bpmn:sequenceFlow id="to_second" sourceRef="first" targetRef="second"/>
    <bpmn:userTask id="second" name="second step"/>
    <bpmn:sequenceFlow id="to_done" sourceRef="second" targetRef="done"/>
    <bpmn:endEvent id="done"/>
    <bpmn:boundaryEvent id="first_late" attachedToRef="first" cancelActivity="true">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P30D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="first_late_end" sourceRef="first_late" targetRef="late_end"/>
    <bpmn:boundaryEvent id="second_late" attachedToRef="second" cancelActivity="true">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P30D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="second_late_end" sourceRef="second_late" targetRef="late_end"/>
    <bpmn:endEvent id="late_end"/>
  </bpmn:process>
</bpmn:definitions>"""


def claimed_first_steps(factory: sessionmaker[Session], ctx: EngineContext, demo: Demo, count: int) -> list[int]:
    """``count`` cases of the probe, each first step claimed by office1: the task ids to complete."""
    office = demo.actor("office1")
    ids = start_cases(factory, ctx, demo, DIAGRAM, "failure_probe", count)
    tasks = [ready_task(factory, iid, "first").id for iid in ids]
    with transaction(factory) as session:
        for task_id in tasks:
            runtime.claim_task(session, ctx, office, task_id)
    return tasks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def workers(self) -> list[int]:
        """The pids of the master's worker processes right now."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                pids.append(int(entry.name))
        return sorted(pids)

    def kill_worker(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)


@contextmanager
def gunicorn(url: str, tmp_path: Path, *, workers: int = 3, step_delay: float = 0.0) -> Iterator[Gunicorn]:
    """``python -m gunicorn -c python:web.gunicorn_conf web.wsgi:app`` on ``url``, as deployed; stopped at the end."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "failure-test", "XUNCHA_DEPLOY_SHIPPED": "0",
           "XUNCHA_INSTANCE_DIR": str(tmp_path / "instance"), "XUNCHA_BIND": f"127.0.0.1:{port}",
           "XUNCHA_WORKERS": str(workers), "XUNCHA_WORKER_TIMEOUT": "60", "XUNCHA_LOG_LEVEL": "WARNING"}
    if step_delay:
        env[TEST_COMMIT_DELAY] = str(step_delay)
    log = tmp_path / f"gunicorn-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_conf", "web.wsgi:app"],
                                   env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    server = Gunicorn(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while len(server.workers()) < workers or call(server.base, "GET", "/healthz")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


DROPPED = -1  # the status recorded when the connection died instead of answering


def call(base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 60) -> tuple[int, Any, dict[str, str]]:
    """(status, JSON body, headers); status DROPPED (body: the error) when no answer came back at all."""
    data = json.dumps(body).encode() if body is not None else None
    request = Request(base + path, data=data, method=method,
                      headers={**({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    try:
        with urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None, dict(response.headers)
    except HTTPError as error:
        with error:
            text = error.read().decode()
            try:
                parsed: Any = json.loads(text)
            except ValueError:
                parsed = text
            return error.code, parsed, dict(error.headers)
    except (URLError, OSError, http.client.HTTPException) as error:
        return DROPPED, repr(error), {}


def complete(base: str, token: str, task_id: int) -> tuple[int, Any, dict[str, str]]:
    """office1 completes a claimed first step, keyed so that a retry is safe."""
    return call(base, "POST", f"{API}/tasks/{task_id}/complete", {"data": {}},
                {"Authorization": f"Bearer {token}", "Idempotency-Key": f"complete-{task_id}"})
