"""Classifying a workflow step's response from its success and failure signatures."""

from __future__ import annotations

import pytest
import yaml

from proxy.ruleset.outcome import classify_response, needs_body
from proxy.ruleset.workflows import WorkflowStep
from proxy.yamlbind import BindContext, bind


def step(text: str) -> WorkflowStep:
    return bind(yaml.compose("{name: s, path: /po/new, " + text + "}"), WorkflowStep, BindContext("t.yaml", environ={}))


PAGE_WITH_ERRORS = "<html><body><ul class='form-errors'><li>Vendor is required</li></ul></body></html>"
SAVED_PAGE = "<html><body><p>Order PO-1234 saved</p></body></html>"

CASES = [
    pytest.param("", 200, None, None, "success", id="default-ok"),
    pytest.param("", 302, "/po/1", None, "success", id="default-redirect"),
    pytest.param("", 500, None, None, "failure", id="default-error"),
    pytest.param("success: {status: 302}", 302, "/po/1", None, "success", id="status"),
    pytest.param("success: {status: 302}", 200, None, PAGE_WITH_ERRORS, "failure", id="only-success-written"),
    pytest.param("success: {status: 3xx}", 303, "/po/1", None, "success", id="status-class"),
    pytest.param("success: {redirect: '/po/{id:int}'}", 302, "http://erp.example/po/9?x=1", None, "success", id="redirect-absolute"),
    pytest.param("success: {redirect: '/po/{id:int}'}", 302, "/po/new", None, "failure", id="redirect-miss"),
    pytest.param("success: {redirect: '/po/{id:int}'}", 302, None, None, "failure", id="redirect-missing-header"),
    pytest.param("failure: {body: {selector: '.form-errors li'}}", 200, None, PAGE_WITH_ERRORS, "failure", id="selector"),
    pytest.param("failure: {body: {selector: '.form-errors li'}}", 200, None, SAVED_PAGE, "success", id="only-failure-written"),
    pytest.param("success: {body: {text: saved}}", 200, None, SAVED_PAGE, "success", id="text"),
    pytest.param("success: {body: {text: saved}}", 200, None, None, "failure", id="text-no-body"),
    pytest.param("success: {body: {regex: 'PO-[0-9]+'}}", 200, None, SAVED_PAGE, "success", id="regex"),
    pytest.param(
        "success: {status: 302}, failure: {status: 200, body: {text: required}}", 200, None, PAGE_WITH_ERRORS, "failure",
        id="both-failure",
    ),
    pytest.param(
        "success: {status: 302}, failure: {status: 200, body: {text: required}}", 200, None, SAVED_PAGE, "unknown",
        id="both-neither",
    ),
    pytest.param("success: {status: [200, 302], body: {text: saved}}", 302, "/x", "", "failure", id="all-conditions"),
]


@pytest.mark.parametrize(("signatures", "status", "location", "body", "expected"), CASES)
def test_classify(signatures: str, status: int, location: str | None, body: str | None, expected: str) -> None:
    assert classify_response(step(signatures), status, location, body) == expected


def test_needs_body() -> None:
    assert needs_body(step("failure: {body: {text: x}}"))
    assert not needs_body(step("success: {status: 302}"))
