"""The private names of Optuna and torch that jobs/local uses, each checked against the installed version (pinned in
constraints.txt), so that an upgrade that renames or changes one fails here, naming it, and not in a sweep.

    optuna.storages.journal._storage.JournalOperation  loop.py: which journal lines are worth an fsync
    optuna.samplers.GPSampler._sample_relative_impl     search.py: the GP's suggestion, overridden to run it without
                                                        torch's device hook
    torch._C.DisableTorchFunction                       search.py: that hook switched off
    optuna.samplers.GPSampler._get_acqf_and_best_params search.py: the acquisition's bar set by the GP's mean
    optuna._gp.gp.GPRegressor.posterior                 search.py: that mean at the trials
"""

from __future__ import annotations

import optuna
import pytest

from jobs.local import search
from jobs.local.loop import _Journal, _KernelLock


def test_journal_operation_names_the_op_codes_optuna_writes(tmp_path):
    """optuna.storages.journal._storage.JournalOperation: a trial's state and its user attribute are written with
    the op codes loop.py's _lasting looks for."""
    try:
        from optuna.storages.journal._storage import JournalOperation
    except ImportError as exc:
        pytest.fail(f"optuna {optuna.__version__} has no optuna.storages.journal._storage.JournalOperation ({exc}): "
                    "jobs/local/loop.py's _lasting needs another way to tell a trial's lasting lines")
    journal = _Journal(str(tmp_path / "study.journal"), _KernelLock(tmp_path / ".lock"))
    study = optuna.create_study(storage=optuna.storages.JournalStorage(journal))
    trial = study.ask()
    trial.set_user_attr("record", {})
    study.tell(trial, 1.0)
    codes = {log["op_code"] for log in journal.read_logs(0)}
    assert {JournalOperation.SET_TRIAL_STATE_VALUES, JournalOperation.SET_TRIAL_USER_ATTR} <= codes, (
        f"optuna {optuna.__version__} writes op codes {sorted(codes)}: JournalOperation changed")


def test_the_gp_sampler_suggests_through_the_private_method_search_overrides(monkeypatch):
    """optuna.samplers.GPSampler._sample_relative_impl: search._OneThreadGP overrides it; it must still exist and be
    what a model-based suggestion calls, or the override silently stops applying."""
    assert hasattr(optuna.samplers.GPSampler, "_sample_relative_impl"), (
        f"optuna {optuna.__version__} has no GPSampler._sample_relative_impl, which jobs/local/search.py overrides")
    called = []
    impl = search._OneThreadGP._sample_relative_impl
    monkeypatch.setattr(search._OneThreadGP, "_sample_relative_impl",
                        lambda self, *args: called.append(1) or impl(self, *args))
    study = optuna.create_study(sampler=search._gp(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=search.ADAPTIVE_STARTUP + 1)
    assert called, f"optuna {optuna.__version__}'s GPSampler no longer calls _sample_relative_impl"


def test_torch_disable_torch_function_is_a_context_manager():
    """torch._C.DisableTorchFunction: what search._OneThreadGP runs a suggestion under."""
    import torch

    assert hasattr(torch._C, "DisableTorchFunction"), (
        f"torch {torch.__version__} has no torch._C.DisableTorchFunction, which jobs/local/search.py uses")
    with torch._C.DisableTorchFunction():
        assert torch.ones(2).sum().item() == 2.0


def test_the_gp_sampler_sets_its_acquisitions_bar_through_the_method_search_overrides(monkeypatch):
    """optuna.samplers.GPSampler._get_acqf_and_best_params and GPRegressor.posterior: search._OneThreadGP hands
    Optuna's method the GP's mean at the trials in place of their values; both must still be there and called,
    and Optuna's method must take the values as its last argument, one row per trial."""
    seen = []
    original = optuna.samplers.GPSampler._get_acqf_and_best_params
    monkeypatch.setattr(optuna.samplers.GPSampler, "_get_acqf_and_best_params",
                        lambda self, *args: seen.append(args) or original(self, *args))
    study = optuna.create_study(sampler=search._gp(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=search.ADAPTIVE_STARTUP + 1)
    assert seen, f"optuna {optuna.__version__}'s GPSampler no longer calls _get_acqf_and_best_params"
    completed, *_, values = seen[0]
    assert values.shape == (len(completed), 1)
