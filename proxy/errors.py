"""Domain errors shared by every layer, each able to say where the problem is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One finding in a configuration or rule file, positioned 1-based as editors count."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class GuidegateError(Exception):
    """Base class of every error Guidegate raises on purpose."""


class InvalidFileError(GuidegateError):
    """A configuration or rule file (or several) failed validation.

    Carries every problem found, so a caller can list them all at once.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class ConfigError(InvalidFileError):
    """The deployment configuration is invalid; the server must not start."""
