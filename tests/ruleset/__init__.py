"""Tests of the rule files subsystem: model, loader, matcher, watcher, page config and commands."""
