"""Classify the response to a workflow step as success or failure from the step's signatures."""

from __future__ import annotations

import warnings
from urllib.parse import urlsplit

import soupsieve
from bs4 import BeautifulSoup

from proxy.ruleset.compiled import CompiledPath
from proxy.ruleset.workflows import Outcome, Signature, WorkflowStep


def needs_body(step: WorkflowStep) -> bool:
    """Whether classifying this step's response needs a copy of the response body."""
    success, failure = step.success, step.failure
    return (success is not None and success.body is not None) or (failure is not None and failure.body is not None)


def classify_response(
    step: WorkflowStep,
    status: int,
    location: str | None = None,
    body: str | None = None,
    *,
    case_sensitive: bool = True,
) -> Outcome:
    """Classify a step's response: 'success', 'failure' or 'unknown'.

    A signature holds when every condition written in it holds; a body marker never holds when
    `body` is None. The failure signature is tested first. When only one signature is written,
    every response it does not describe counts as the other outcome; when none is written, a
    status below 400 is a success. 'unknown' means both are written and neither holds.
    `location` is the Location header; only its path is compared with `redirect`.
    """
    success, failure = step.success, step.failure
    if failure is not None and _holds(failure, status, location, body, case_sensitive):
        return "failure"
    if success is not None and _holds(success, status, location, body, case_sensitive):
        return "success"
    if success is None and failure is None:
        return "success" if status < 400 else "failure"
    if failure is None:
        return "failure"
    if success is None:
        return "success"
    return "unknown"


def _holds(signature: Signature, status: int, location: str | None, body: str | None, case_sensitive: bool) -> bool:
    if signature.status:
        for spec in signature.status:
            if _status_matches(spec, status):
                break
        else:
            return False
    if signature.redirect is not None:
        if not location:
            return False
        path = urlsplit(location).path or "/"
        if CompiledPath(signature.redirect, case_sensitive).match(path) is None:
            return False
    marker = signature.body
    if marker is not None:
        if body is None:
            return False
        if marker.text is not None:
            return marker.text in body
        if marker.regex is not None:
            return marker.regex.search(body) is not None
        if marker.selector is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                document = BeautifulSoup(body, "html.parser")
                return soupsieve.select_one(marker.selector, document) is not None
    return True


def _status_matches(spec: int | str, status: int) -> bool:
    if isinstance(spec, int):
        return spec == status
    return str(status)[0] == spec[0]
