"""What a trial imports: never torch._dynamo (torch.optim's classes would, for 2 s of every fresh trial), and
after the fork server's preload (jobs/local/warm.py) nothing at all, so a forked trial starts warm."""

from __future__ import annotations

import subprocess
import sys


def last_line(code: str, tmp_path) -> str:
    """The last line ``code`` prints, run as a fresh Python process with a trial's environment."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"AIP_MODEL_DIR": str(tmp_path / "m"), "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "hp"),
                               "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip(), done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_trial_never_imports_torch_dynamo(small_data, tmp_path):
    train, val = small_data
    code = ("import sys; from trainer.cli import main; "
            f"code = main(['--train={train}', '--val={val}', '--epochs=3', '--optimizer=adamw']); "
            "print(code, 'torch._dynamo' in sys.modules)")
    assert last_line(code, tmp_path) == "0 False"


def test_a_trial_after_the_preload_imports_nothing(small_data, tmp_path):
    train, val = small_data
    trials = [["--optimizer=adam"], ["--optimizer=adamw", "--batch_size=16"], ["--optimizer=sgd", "--dropout=0.2"]]
    code = ("import sys; import jobs.local.warm; from trainer.cli import main; before = set(sys.modules); "
            f"codes = [main(['--train={train}', '--val={val}', '--epochs=3', *extra]) for extra in {trials!r}]; "
            "print(codes, sorted(set(sys.modules) - before), 'torch._dynamo' in sys.modules)")
    assert last_line(code, tmp_path) == "[0, 0, 0] [] False"
