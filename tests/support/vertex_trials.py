"""How the Vertex AI stand-in runs a trial: its container (or prebuilt container) as a local process in the
trial environment, its reports read as measurements, Spot preemption, early stopping, its end."""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.vertex_rules import SPOT_RESTARTS, STOP_GRACE_S, ParameterSpecPb, SpecPb, Strategy, TrialPb


@dataclass
class RunningTrial:
    trial: object  # the Trial message inside the job
    process: subprocess.Popen
    metric_file: Path
    started: float  # time.monotonic()
    argv: list[str]  # what the container runs, in ``env``, from ``folder``: run again after a Spot preemption
    env: dict[str, str]
    folder: Path
    stop_sent: float = 0.0
    timed_out: bool = False
    stockout: bool = False  # preempted once more than Spot's restarts


class TrialRunner:
    """The trial half of VertexStandIn (which holds ``workdir``, ``random``, ``lock``, ``preempt``...)."""

    def _start_trial(self, job, trial_id: str) -> RunningTrial:
        pool = job.trial_job_spec.worker_pool_specs[0]
        base = job.trial_job_spec.base_output_directory.output_uri_prefix.rstrip("/")
        values = self._sample(job.study_spec.parameters)
        folder = self.workdir / job.name.rsplit("/", 1)[1] / trial_id
        folder.mkdir(parents=True, exist_ok=True)
        metric_file = folder / "hypertune.json"
        package = pool.python_package_spec
        # ContainerSpec.env: "Environment variables to be passed to the container."; PythonPackageSpec.env:
        # "Environment variables to be passed to the python module."
        env = {**os.environ, **{e.name: e.value for e in [*pool.container_spec.env, *package.env]},
               # BaseOutputDirectory for hyperparameter tuning: AIP_MODEL_DIR = <base>/<trial id>/model/
               "AIP_MODEL_DIR": f"{base}/{trial_id}/model/",
               "AIP_CHECKPOINT_DIR": f"{base}/{trial_id}/checkpoints/",
               "AIP_TENSORBOARD_LOG_DIR": f"{base}/{trial_id}/logs/",
               # Not on Google's pages: cloudml-hypertune reads CLOUD_ML_HP_METRIC_FILE (its default is
               # /tmp/hypertune/output.metrics, one container's file) and trainers log CLOUD_ML_TRIAL_ID; the
               # stand-in sets both so trials sharing this machine keep their own files (an assumption).
               "CLOUD_ML_TRIAL_ID": trial_id, "CLOUD_ML_HP_METRIC_FILE": str(metric_file)}
        flags = [f"--{pid}={_flag(v)}" for pid, v in values]
        if not package.package_uris:
            argv = [*self.entrypoint, *pool.container_spec.args, *flags]
        elif (python := self.containers[job.name][0]) is not None:  # pythonModule run with args, then the flags
            argv = [str(python), "-m", package.python_module, *package.args, *flags]
        else:  # the install failed: the trial fails with pip's output in its log
            argv = [sys.executable, "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read()); sys.exit(1)",
                    str(self.containers[job.name][1])]
        process = _launch(argv, env, folder)
        with self.lock:
            trial = job.trials.add(id=trial_id, state=TrialPb.State.REQUESTED)
            trial.start_time.GetCurrentTime()
            for pid, value in values:
                parameter = trial.parameters.add(parameter_id=pid)
                if isinstance(value, str):
                    parameter.value.string_value = value
                else:
                    parameter.value.number_value = float(value)
        return RunningTrial(trial, process, metric_file, time.monotonic(), argv, env, folder)

    def _preempt_if_asked(self, job, run: RunningTrial) -> None:
        """Reclaim a Spot trial's VM as ``preempt`` asks: up to SPOT_RESTARTS times the trial starts over, then
        it fails (``_finish``). What a restart keeps, what the container receives and the trial's state meanwhile
        are not documented: the stand-in kills the container and runs it again from the start (same parameters,
        its reports so far dropped), the trial staying ACTIVE. A container that has just exited is preempted all the
        same, so that a test's count does not depend on how fast its trainer runs."""
        trial_id = run.trial.id
        restarts = self.restarts.get(trial_id, 0)
        if job.trial_job_spec.scheduling.strategy != Strategy.SPOT or self.preempt.get(trial_id, 0) <= restarts:
            return
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()
        if restarts == SPOT_RESTARTS:
            run.stockout = True
            return
        self.restarts[trial_id] = restarts + 1
        run.metric_file.unlink(missing_ok=True)
        run.process = _launch(run.argv, run.env, run.folder)

    def _sample(self, specs) -> list[tuple[str, object]]:
        values = []
        for spec in specs:
            value = self._sample_one(spec)
            values.append((spec.parameter_id, value))
            for condition in spec.conditional_parameter_specs:
                which = condition.WhichOneof("parent_value_condition")
                if value in getattr(condition, which).values:
                    values += self._sample([condition.parameter_spec])
        return values

    def _sample_one(self, spec) -> object:
        kind, rng = spec.WhichOneof("parameter_value_spec"), self.random
        if kind == "double_value_spec":
            low, high = spec.double_value_spec.min_value, spec.double_value_spec.max_value
            if spec.scale_type == ParameterSpecPb.ScaleType.UNIT_LOG_SCALE:
                return math.exp(rng.uniform(math.log(low), math.log(high)))
            return rng.uniform(low, high)
        if kind == "integer_value_spec":
            return rng.randint(spec.integer_value_spec.min_value, spec.integer_value_spec.max_value)
        if kind == "discrete_value_spec":
            return float(rng.choice(list(spec.discrete_value_spec.values)))
        return rng.choice(list(spec.categorical_value_spec.values))

    def _measure(self, job, run: RunningTrial, final: bool) -> None:
        """The trial's reports so far as measurements; at the end, the final one by the study's rule."""
        metric = job.study_spec.metrics[0]
        steps = {}
        try:
            lines = run.metric_file.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:  # Vertex reads only the hypertune file, never the trial's stdout
            try:
                row = json.loads(line)
                steps[int(float(row.get("global_step", 0)))] = float(row[metric.metric_id])
            except (ValueError, KeyError):
                continue
        with self.lock:
            # Trial.measurements: "strictly lexicographically ordered by their induced tuples (steps, ...)"
            del run.trial.measurements[:]
            for step, value in sorted(steps.items()):
                run.trial.measurements.add(step_count=step).metrics.add(metric_id=metric.metric_id, value=value)
            if final and steps:
                if job.study_spec.measurement_selection_type == SpecPb.MeasurementSelectionType.LAST_MEASUREMENT:
                    step = max(steps)
                else:
                    pick = max if metric.goal == SpecPb.MetricSpec.GoalType.MAXIMIZE else min
                    step = pick(steps, key=steps.get)
                run.trial.final_measurement.step_count = step
                run.trial.final_measurement.metrics.add(metric_id=metric.metric_id, value=steps[step])

    def _stop_early_if_told(self, job, run: RunningTrial) -> None:
        """The service's automated stopping, as assumed (STOP_GRACE_S): STOPPING, SIGTERM to the container, SIGKILL
        after a grace."""
        with self.lock:
            if run.trial.state == TrialPb.State.STOPPING:
                if time.monotonic() - run.stop_sent > STOP_GRACE_S:
                    os.killpg(run.process.pid, signal.SIGKILL)
                return
            if run.trial.state != TrialPb.State.ACTIVE or not self._should_stop(job, run.trial):
                return
            # Trial.State STOPPING: "Indicates that the Trial should stop according to the service."
            run.trial.state = TrialPb.State.STOPPING
        run.stop_sent = time.monotonic()
        os.killpg(run.process.pid, signal.SIGTERM)  # what a stopped trial's container receives: docs silent

    def _should_stop(self, job, trial) -> bool:
        """Median rule (StudySpec.MedianAutomatedStoppingSpec): "stops a pending Trial if the Trial's best
        objective_value is strictly below the median 'performance' of all completed Trials reported up to the
        Trial's last measurement. Currently, 'performance' refers to the running average of the objective
        values reported by the Trial in each measurement." The decay-curve rule is a Gaussian process whose
        settings Google does not publish; the stand-in applies the median rule to it as well, so that a
        test sees the service, not the trainer, decide."""
        study = job.study_spec
        if not (study.HasField("median_automated_stopping_spec") or study.HasField("decay_curve_stopping_spec")):
            return False
        if not trial.measurements:
            return False
        maximize = study.metrics[0].goal == SpecPb.MetricSpec.GoalType.MAXIMIZE
        sign = 1.0 if maximize else -1.0
        last_step = trial.measurements[-1].step_count
        best = max(sign * m.metrics[0].value for m in trial.measurements)
        performances = []
        for done in job.trials:
            if done.state != TrialPb.State.SUCCEEDED:
                continue
            values = [sign * m.metrics[0].value for m in done.measurements if m.step_count <= last_step]
            if values:
                performances.append(sum(values) / len(values))
        if not performances:
            return False
        return best < statistics.median(performances)

    def _finish(self, job, run: RunningTrial, code: int, cancelled: bool) -> int:
        """Close the trial; 1 when it failed."""
        with self.lock:
            trial = run.trial
            trial.end_time.GetCurrentTime()
            stopped = trial.state == TrialPb.State.STOPPING
            # Assumed: a trial the service stopped ends SUCCEEDED with the measurements it reported, as Vizier
            # completes a trial (VizierService.CompleteTrial: "the service will auto-select a previously reported
            # measurement as the final-measurement"); no hyperparameter tuning page says so.
            if (code == 0 or stopped) and not run.stockout and trial.HasField("final_measurement"):
                trial.state = TrialPb.State.SUCCEEDED
                return 0
            trial.ClearField("final_measurement")
            # Trial.State INFEASIBLE: "when it's done but missing the final_measurement".
            trial.state = TrialPb.State.INFEASIBLE
            # A Spot trial past its restarts: the docs name only the STOCKOUT error; its wording here, and the
            # trial ending INFEASIBLE (Trial.State has no FAILED), are the stand-in's.
            trial.infeasible_reason = ("job cancelled" if cancelled else
                                       f"STOCKOUT: the Spot VM was preempted after {SPOT_RESTARTS} restarts"
                                       if run.stockout else
                                       "the trial's job ran past its scheduling timeout" if run.timed_out else
                                       f"the trial exited with status {code}" if code else
                                       f"the trial reported no {job.study_spec.metrics[0].metric_id}")
            return 1


def _launch(argv: list[str], env: dict[str, str], folder: Path) -> subprocess.Popen:
    """A trial's container: ``argv`` in its own session, its output appended to ``folder``/log.txt."""
    with open(folder / "log.txt", "ab") as log:
        return subprocess.Popen(argv, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _flag(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)
