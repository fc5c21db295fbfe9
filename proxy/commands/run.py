"""`guidegate run`: start the proxy with a configuration, in one or several worker processes."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

from proxy import eventloop
from proxy.allocator import tune_allocator
from proxy.config import Config, load_config
from proxy.errors import GuidegateError, InvalidFileError
from proxy.logsetup import configure_logging
from proxy.server import serve

logger = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `run`."""
    parser = subparsers.add_parser(
        "run",
        help="start the proxy",
        description="Start the proxy in front of the configured apps; SIGTERM or SIGINT stops it gracefully.",
    )
    parser.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes sharing each port (default: from the config)")
    parser.set_defaults(handler=handle)
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def handle(arguments: argparse.Namespace) -> int:
    """Load the configuration, refuse to start on any problem, then serve."""
    try:
        config = load_config(arguments.config)
    except InvalidFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("guidegate: not started because the configuration is invalid", file=sys.stderr)
        return 1
    configure_logging(config.logging)
    workers = arguments.workers if arguments.workers is not None else config.workers
    if workers < 1:
        print(f"guidegate: invalid --workers {workers}; expected 1 or more", file=sys.stderr)
        return 2
    tune_allocator()
    try:
        eventloop.loop_factory(config.event_loop)
    except GuidegateError as error:
        print(f"guidegate: {error}", file=sys.stderr)
        return 1
    if workers == 1:
        try:
            eventloop.run(serve(config), config.event_loop)
        except GuidegateError as error:
            print(f"guidegate: {error}", file=sys.stderr)
            return 1
        return 0
    return run_workers(config, workers)


def run_workers(config: Config, workers: int) -> int:
    """Fork `workers` processes that share each listening port through SO_REUSEPORT.

    The parent only supervises: it passes SIGTERM and SIGINT on and waits for every child.
    """
    children: list[int] = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                eventloop.run(serve(config, reuse_port=True), config.event_loop)
            except GuidegateError as error:
                logger.error("worker %d stopped: %s", index, error)
                os._exit(1)
            except BaseException:
                logger.exception("worker %d crashed", index)
                os._exit(1)
            os._exit(0)
        children.append(pid)
        logger.info("worker %d started with pid %d", index, pid)

    def forward_signal(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward_signal)
    signal.signal(signal.SIGINT, forward_signal)
    exit_code = 0
    for child in children:
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            exit_code = 1
            logger.error("worker with pid %d exited with status %d", child, code)
    return exit_code
