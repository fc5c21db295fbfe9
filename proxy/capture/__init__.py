"""Workflow capture: match requests to workflow steps and features, read form field names, classify outcomes."""

from proxy.capture.bodycopy import BodyCopy
from proxy.capture.forms import FormSummary, form_reader
from proxy.capture.hook import Capture, app_path

__all__ = ["BodyCopy", "Capture", "FormSummary", "app_path", "form_reader"]
