"""The rules and events benchmarks that live beside the harness: run them if present and collect their figures."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

COMPANIONS = {"rules": ("Rule matching", "bench.bench_rules"), "events": ("Event store", "bench.bench_events")}
"""Section name for --only, report heading, and module of each companion benchmark."""

ENTRY_POINTS = ("run", "benchmark", "measure")
"""Function names tried in order. The first that exists is called with quick=True or False if it takes
`quick`; one without that argument runs only in full runs, with its defaults."""


def find_entry(module: Any) -> Callable[..., Any] | None:
    """Return the benchmark function of a companion module, or None when it has none of ENTRY_POINTS."""
    for name in ENTRY_POINTS:
        function = getattr(module, name, None)
        if callable(function):
            return function  # type: ignore[no-any-return]
    return None


def run_companion(module_name: str, quick: bool) -> dict[str, object] | str:
    """Run a companion benchmark; return its figures, or the reason it was not run."""
    if importlib.util.find_spec(module_name) is None:
        return f"{module_name.replace('.', '/')}.py is not present"
    module = importlib.import_module(module_name)
    function = find_entry(module)
    if function is None:
        return f"{module_name} defines none of the functions {', '.join(ENTRY_POINTS)}"
    parameters = inspect.signature(function).parameters
    if "quick" in parameters:
        arguments = {"quick": quick}
    elif quick:
        return f"{module_name}.{function.__name__} takes no quick argument, so a quick run leaves it out"
    else:
        arguments = {}
    logger.info("running %s.%s", module_name, function.__name__)
    try:
        figures = function(**arguments)
    except Exception as error:
        # A failing companion must not discard the proxy figures measured before it.
        logger.exception("%s.%s failed", module_name, function.__name__)
        return f"{module_name}.{function.__name__} failed: {type(error).__name__}: {error}"
    if not isinstance(figures, dict):
        return f"{module_name}.{function.__name__} returned {type(figures).__name__}; expected a dict of figures"
    return {str(key): value for key, value in figures.items()}
