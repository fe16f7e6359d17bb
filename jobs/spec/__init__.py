"""The sweep spec: a YAML file that describes one hyperparameter sweep, whichever backend runs it.

``load_spec`` reads and checks a file; every problem found is reported at once in one ``SpecError``
whose lines read ``<file>: <field.path>: <reason>``. The same ``Spec`` drives every backend; a section named
for a backend (``vertex:``) is that backend's own, checked by it (``Backend.check``) when it plans or runs the
sweep. See docs/sweep-spec.md for the format.

The model is in ``model`` (its parameter types in ``parameters``), the wording of errors in ``messages``,
and the reading of files in ``loading``.
"""

from jobs.spec.loading import load_runnable_spec, load_spec, parse_spec
from jobs.spec.messages import SpecError
from jobs.spec.model import Metric, Spec, TrainerCommand, Trials
from jobs.spec.parameters import CategoricalParameter, DiscreteParameter, DoubleParameter, IntegerParameter, Parameter

__all__ = ["CategoricalParameter", "DiscreteParameter", "DoubleParameter", "IntegerParameter", "Metric", "Parameter",
           "Spec", "SpecError", "TrainerCommand", "Trials", "load_runnable_spec", "load_spec",
           "parse_spec"]
