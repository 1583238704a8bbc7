"""Errors the CLI turns into clear messages (exit code 2 for bad input)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GenrebenchError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    #: The command line's exit status for it: 2, invalid input found before any work.
    exit_code = 2


class RunStopped(GenrebenchError):
    """The run stopped midway for want of something outside it: a full disk, a Dask
    cluster without workers or a lost scheduler.  Finished jobs are kept, and a run
    started again reuses them (exit status 3)."""

    exit_code = 3


class ConfigError(GenrebenchError):
    """An invalid option, name or configuration."""


#: How similar (``difflib.SequenceMatcher.ratio``) a known name must be to an unknown one to
#: be suggested: a typo such as ``reference/logrgr`` scores 0.94, an unrelated name such
#: as ``johnson2024/dense`` for ``chromaknn/knn`` 0.27.  difflib's own default.
SUGGESTION_CUTOFF = 0.6


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most similar to ``name``, if similar enough to be a typo of it."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=SUGGESTION_CUTOFF)
    return close[0] if close else None


class UnknownNameError(ConfigError):
    """A dataset/feature/model/metric/experiment name that no plugin registered: the
    nearest known name when it is close enough to be a typo, a word when no known name
    has the name's ``plugin/`` prefix (its plugin is probably not installed), and the
    known names."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = closest(name, known)
        hint = f" Did you mean {close!r}?" if close else ""
        prefix = name.split("/", 1)[0] + "/" if "/" in name else ""
        if prefix and not any(k.startswith(prefix) for k in known):
            prefixes = sorted({k.split("/", 1)[0] + "/" for k in known if "/" in k})
            hint += (
                f" No installed plugin provides {kind}s named {prefix}...; is the plugin "
                "that does installed? (`genrebench list` shows what is; known prefixes: "
                f"{', '.join(prefixes) or 'none'})."
            )
        listing = ", ".join(known) if known else "(none registered)"
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {listing}")
        self.kind, self.name, self.known, self.suggestion = kind, name, known, close


class DataRootError(GenrebenchError):
    """The data root is missing or does not have the expected layout."""


class AudioError(GenrebenchError):
    """An audio file that cannot be decoded (corrupt, empty, unsupported)."""


class PluginError(GenrebenchError):
    """A plugin conflict, for example two plugins registering the same name."""
