"""OpenNebula context files (SPEC §2)."""

from __future__ import annotations

import os
import warnings
from typing import Optional, Union

from ._stamen import parse_context as _parse_context

__all__ = ["LossyContextWarning", "parse_context", "read_context"]


class LossyContextWarning(UserWarning):
    """A ``one_env`` value may be corrupted (one-context writes it without escaping)."""


def parse_context(
    text: Union[str, bytes], *, dialect: str = "context.sh", filename: Optional[str] = None
) -> dict[str, str]:
    """Parse the text of an OpenNebula context file into its variables.

    ``dialect`` is ``"context.sh"`` (oned's format, strict) or ``"lenient"``
    (also ``export KEY="value"`` lines of ``one_env``). The result has shell
    semantics: the last assignment of a key wins. Every problem of the file is
    reported at once in one :class:`~stamen.ContextError` whose ``errors`` list
    holds each problem with its line and column; ``filename`` only names the
    file in messages. Values of ``one_env`` that may be corrupted produce a
    :class:`LossyContextWarning` naming the keys (never the values).
    """
    return _parse(text, dialect, filename, stacklevel=3)


def _parse(text: Union[str, bytes], dialect: str, filename: Optional[str], stacklevel: int) -> dict[str, str]:
    variables, lossy = _parse_context(text, dialect=dialect, filename=filename)
    if lossy:
        warnings.warn(
            f"{filename or '<context>'}: values of {', '.join(lossy)} may be corrupted: "
            "one_env is written without escaping; read context.sh instead",
            LossyContextWarning,
            stacklevel=stacklevel,
        )
    return variables


def read_context(path: Union[str, os.PathLike[str]], *, dialect: Optional[str] = None) -> dict[str, str]:
    """Read and parse a context file; the dialect defaults from the file name
    (``one_env`` → ``"lenient"``, anything else → ``"context.sh"``)."""
    name = os.fspath(path)
    if dialect is None:
        dialect = "lenient" if os.path.basename(name) == "one_env" else "context.sh"
    with open(name, "rb") as f:
        data = f.read()
    return _parse(data, dialect, name, stacklevel=3)
