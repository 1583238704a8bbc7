"""Ctrl-C stops a run even when a library swallows the ``KeyboardInterrupt``.

Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the main thread happens to
be.  Code that catches it and goes on (a bare ``except:`` or ``except BaseException`` in a
plugin or in one of its dependencies) would let the run carry on to its end as if nothing
happened.  While a command runs, SIGINT also sets a flag, and the runner checks the flag
before each job: the run stops at the next job at the latest, with exit code 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_interrupted = threading.Event()


def _on_sigint(signum: int, frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def catching_interrupts() -> Iterator[None]:
    """Within the block, SIGINT raises ``KeyboardInterrupt`` and is remembered; outside the
    main thread (where no signal handler can be set) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _interrupted.clear()
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        # A handler installed from C code reads back as None and cannot be set again.
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    # Past the block: an interrupt that something swallowed still ends the command.
    stop_if_interrupted()


def stop_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` when SIGINT arrived during :func:`catching_interrupts`,
    even if the first ``KeyboardInterrupt`` was caught and dropped."""
    if _interrupted.is_set():
        raise KeyboardInterrupt
