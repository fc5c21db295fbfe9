"""The event loop the server runs on: uvloop when it is installed and chosen, otherwise asyncio's own."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from proxy.errors import GuidegateError

logger = logging.getLogger(__name__)

LoopChoice = Literal["auto", "uvloop", "asyncio"]


def uvloop_available() -> bool:
    """Return whether the uvloop package can be imported."""
    return importlib.util.find_spec("uvloop") is not None


def loop_factory(choice: LoopChoice) -> Callable[[], asyncio.AbstractEventLoop]:
    """Return the factory of the loop `choice` names; 'auto' takes uvloop when it is installed.

    Raise GuidegateError when 'uvloop' is asked for and not installed.
    """
    if choice == "asyncio" or (choice == "auto" and not uvloop_available()):
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError as error:
        raise GuidegateError(
            "event_loop is 'uvloop', but the uvloop package is not installed; "
            "install it (pip install uvloop) or set event_loop to 'auto' or 'asyncio'"
        ) from error
    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """Return 'uvloop' or 'asyncio', the package whose loop `loop` is."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, None], choice: LoopChoice) -> None:
    """Run `main` to completion on a new loop of the chosen kind, then close the loop."""
    factory = loop_factory(choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        name = loop_name(runner.get_loop())
        logger.info("event loop: %s", name)
        if name == "uvloop":
            allow_vectored_writes()
        runner.run(main)


def allow_vectored_writes() -> None:
    """Let aiohttp hand a response head and body to the transport as separate buffers.

    Before Python 3.12.9, aiohttp joins them into one bytes object first, a copy of the whole body
    piece. asyncio's own transport gains nothing from writelines() there, and its writelines() in
    3.12.0 to 3.12.8 and 3.13.0 to 3.13.1 has a known flaw (CVE-2024-12254). uvloop's transport
    passes the buffers to libuv, which sends them with one writev(), so the join can be skipped.
    Call it only when the server runs on uvloop.
    """
    from aiohttp import http_writer

    http_writer.SKIP_WRITELINES = False
