"""Shared by the report tests: a synthetic sweep with known answers, and headless Chromium over the
DevTools protocol."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from jobs.cloud import storage
from jobs.report.collect import collect
from jobs.spec import Spec, parse_spec
from jobs.trial.record import TrialRecord

CHROMIUM = Path("/usr/bin/chromium")
SPEC = {
    "name": "synth",
    "metric": {"id": "validation_accuracy", "goal": "maximize"},
    "parameters": {
        "learning_rate": {"type": "double", "min": 1e-4, "max": 1e-1, "scale": "log"},
        "layers": {"type": "integer", "min": 1, "max": 4},
        "hidden": {"type": "discrete", "values": [16, 32, 64, 128]},
        "optimizer": {"type": "categorical", "values": ["adam", "sgd"]},
        "momentum": {"type": "double", "min": 0.5, "max": 0.99, "scale": "reverse_log", "when": {"optimizer": ["sgd"]}},
    },
    "early_stopping": "median",
    "trials": {"max": 200, "parallel": 4},
}


def synth_spec(goal: str = "maximize") -> Spec:
    return parse_spec({**SPEC, "metric": {**SPEC["metric"], "goal": goal}}, "synth.yaml")


@dataclass
class Trial:
    """A synthetic trial: its record and the metrics.json body it uploads (None: no file)."""

    record: TrialRecord
    metrics: dict | None


def synth_trials(count: int, seed: int = 0) -> list[Trial]:
    """Trials whose objective peaks at learning_rate 1e-2 (so it is the parameter that matters);
    about one in ten failed, one in ten stopped early; started in a slightly shuffled order."""
    rng = random.Random(seed)
    trials = []
    for i in range(1, count + 1):
        params: dict[str, object] = {"learning_rate": 10 ** rng.uniform(-4, -1), "layers": rng.randint(1, 4),
                                     "hidden": float(rng.choice([16, 32, 64, 128])),
                                     "optimizer": rng.choice(["adam", "sgd"])}
        if params["optimizer"] == "sgd":
            params["momentum"] = rng.uniform(0.5, 0.99)
        objective = 0.9 - 0.05 * abs(math.log10(params["learning_rate"]) + 2) + rng.uniform(0, 0.01)
        state = rng.choices(["SUCCEEDED", "FAILED", "STOPPED"], [8, 1, 1])[0]
        reason = {"FAILED": "exit code 1", "STOPPED": "early stopping (median) at step 6"}.get(state, "")
        record = TrialRecord(trial_id=str(i), state=state, objective=None if state == "FAILED" else objective,
                             parameters=params, duration_s=rng.uniform(5, 50), reason=reason,
                             started=1_700_000_000 + i + rng.uniform(-3, 3),
                             step=None if state == "FAILED" else (6 if state == "STOPPED" else rng.randint(20, 60)))
        metrics = None if state != "SUCCEEDED" else {
            "final_val_accuracy": objective - 0.01, "best_val_loss": 1 - objective, "best_epoch": rng.randint(5, 50),
            "early_stopped": rng.random() < 0.5, "device": "cpu", "learning_rate": -1.0,  # a clash: the parameter wins
        }
        trials.append(Trial(record, metrics))
    return trials


def history_csv(epochs: int, seed: int) -> str:
    rng = random.Random(seed)
    rows = ["epoch,train_loss,val_loss,val_accuracy"]
    rows += [f"{e},{0.7 / e ** 0.3:.4f},{0.72 / e ** 0.25 + rng.uniform(0, 0.02):.4f},"
             f"{0.9 - 0.4 / e ** 0.5:.4f}" for e in range(1, epochs + 1)]
    return "\n".join(rows) + "\n"


def write_artifacts(base: str, trials: list[Trial]) -> None:
    """metrics.json (where a trial has one) and eval_history.csv of succeeded trials under
    ``<base>/<trial_id>/model/``, local or gs://."""
    for t in trials:
        model = storage.join(base, t.record.trial_id, "model")
        if t.metrics is not None:
            storage.write_bytes(storage.join(model, "metrics.json"), json.dumps(t.metrics).encode())
            history = history_csv(t.record.step or 10, int(t.record.trial_id))
            storage.write_bytes(storage.join(model, "eval_history.csv"), history.encode())


class Chromium:
    """Headless Chromium driven over the DevTools protocol: load a page, collect console errors and
    exceptions, evaluate JavaScript, take a full-page screenshot."""

    FLAGS: ClassVar[list[str]] = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        "--remote-debugging-port=0", "--window-size=1280,900"]

    def __init__(self, profile: Path):
        # Its temporary files, which a killed Chromium leaves behind; a short path, as its socket's must be.
        self.profile, self.scratch = profile, Path(tempfile.mkdtemp(prefix="chromium-"))
        self.process = subprocess.Popen([str(CHROMIUM), *self.FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        env={**os.environ, "TMPDIR": str(self.scratch)})
        self.errors: list[str] = []
        self._next_id = 0
        self._closing = ExitStack()

    def __enter__(self) -> Chromium:
        from websockets.sync.client import connect

        port = self._port()
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(p for p in pages if p["type"] == "page")
        self.socket = self._closing.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10))
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc) -> None:
        self._closing.close()
        self.process.kill()
        self.process.wait()
        for folder in (self.profile, self.scratch):
            shutil.rmtree(folder, ignore_errors=True)

    def _port(self, timeout: float = 20) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.process.returncode}")
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def call(self, method: str, **params) -> dict:
        self._next_id += 1
        call_id = self._next_id
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def load(self, url: str, timeout: float = 20) -> None:
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while self._receive(deadline - time.monotonic()).get("method") != "Page.loadEventFired":
            pass

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        import base64

        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def _receive(self, timeout: float = 20) -> dict:
        message = json.loads(self.socket.recv(timeout=max(0.01, timeout)))
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            shown = (str(a.get("value", a.get("description"))) for a in params["args"])
            self.errors.append("console: " + " ".join(shown))
        elif method == "Runtime.exceptionThrown":
            self.errors.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        return message


def under_artifacts_base(records: list[TrialRecord], artifacts_base: str) -> list[TrialRecord]:
    """The records with ``artifact_dir`` set to ``<artifacts_base>/<trial_id>`` (Vertex AI's layout)."""
    return [dataclasses.replace(r, artifact_dir=storage.join(artifacts_base, r.trial_id)) for r in records]


ALL_PLOTS = ["importance", "objective", "parameters", "parallel", "curves", "early_stopping"]


def synth_sweep(tmp_path, count: int, spec=None, keep=lambda t: True, run_id: str = "synth-1"):
    trials = [t for t in synth_trials(count, seed=5) if keep(t)]
    write_artifacts(str(tmp_path / "artifacts"), trials)
    records = under_artifacts_base([t.record for t in trials], str(tmp_path / "artifacts"))
    return collect(run_id, spec or synth_spec(), records)


def synth_records(count: int, keep=lambda t: True) -> list:
    """The records synth_sweep collects, straight from the fixture."""
    return [t.record for t in synth_trials(count, seed=5) if keep(t)]


def ranked(records) -> list:
    """Succeeded records, best (highest validation_accuracy) first."""
    return sorted((r for r in records if r.state == "SUCCEEDED"), key=lambda r: -r.objective)


def positions(records) -> dict[str, int]:
    """Trial id -> place in start order (1, 2, ...)."""
    return {r.trial_id: i for i, r in enumerate(sorted(records, key=lambda r: r.started), start=1)}


def best_so_far(records) -> list[float]:
    """The best succeeded objective after each trial in start order (NaN before the first success)."""
    running, curve = -math.inf, []
    for r in sorted(records, key=lambda r: r.started):
        running = max(running, r.objective) if r.state == "SUCCEEDED" else running
        curve.append(running if running > -math.inf else math.nan)
    return curve
