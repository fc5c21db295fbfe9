"""Measured figures of one harness run, kept per repeat and reduced to medians for the report."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.profile import Hotspot


@dataclass
class Results:
    """Every figure by (section, case, target, metric), one value per repeat, plus notes and skipped parts."""

    values: dict[tuple[str, str, str, str], list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    extra: dict[str, dict[str, object]] = field(default_factory=dict)
    """Figures returned by the rules and events benchmarks, by section name."""
    profile: list[Hotspot] = field(default_factory=list)
    """The functions on which Guidegate spends more CPU per request than the bare forwarder, from py-spy."""
    other_load: list[float] = field(default_factory=list)
    """Per repeat, the estimated share of the machine's CPU that processes outside the harness took."""
    profile_cpu_us: dict[str, float] = field(default_factory=dict)
    """CPU µs per request of each profiled process during its profile, by target name."""

    def add(self, section: str, case: str, target: str, metric: str, value: float) -> None:
        """Record one repeat's value of a metric."""
        self.values.setdefault((section, case, target, metric), []).append(value)

    def median(self, section: str, case: str, target: str, metric: str) -> float | None:
        """Return the median over repeats, or None when the metric was not measured."""
        samples = self.values.get((section, case, target, metric))
        return statistics.median(samples) if samples else None

    def count(self, section: str, case: str, target: str, metric: str) -> int:
        """Return how many repeats measured a metric."""
        return len(self.values.get((section, case, target, metric), []))

    def cases(self, section: str) -> list[str]:
        """Return the cases of a section in the order they were first measured."""
        return list(dict.fromkeys(case for (name, case, _, _) in self.values if name == section))

    def targets(self, section: str) -> list[str]:
        """Return the targets of a section in the order they were first measured."""
        return list(dict.fromkeys(target for (name, _, target, _) in self.values if name == section))

    def note(self, text: str) -> None:
        """Add a note for the report, once."""
        if text not in self.notes:
            self.notes.append(text)
