"""The ``Examples`` sections of the public entry points run as doctests, and give what they show.

Each entry point's docstring must have a numpydoc ``Examples`` section; its examples are run in the repository
folder (the paths they use are those of a clone). Add an entry point to :data:`ENTRY_POINTS` when it gets one.
"""

import doctest
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: ``module:name`` of every public entry point with runnable examples; those that decode video need the model.
ENTRY_POINTS = [
    "twitchcam.pipeline:analyze_landmarks",
    pytest.param("twitchcam.pipeline:analyze", marks=pytest.mark.model),
    "twitchcam.stream:StreamingAnalyzer",
    pytest.param("twitchcam.simulate.simulation:simulate", marks=pytest.mark.model),
]


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_the_examples_of_an_entry_point_run_and_give_what_they_show(entry_point, monkeypatch):
    module, name = entry_point.split(":")
    obj = getattr(importlib.import_module(module), name)
    assert "\n    Examples\n    --------\n" in obj.__doc__
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs={})
    assert len(tests) == 1 and len(tests[0].examples) >= 3
    monkeypatch.chdir(REPO)
    report = []
    result = doctest.DocTestRunner().run(tests[0], out=report.append)
    assert result == doctest.TestResults(failed=0, attempted=len(tests[0].examples)), "".join(report)
