"""Type stubs of the native module ``stamen._stamen`` (checked by mypy.stubtest)."""

from collections.abc import Iterator
from typing import Optional, Union, final

__all__ = [
    "__version__",
    "StamenError",
    "ContextError",
    "ConfigError",
    "ExprParseError",
    "EvalError",
    "PolicyError",
    "Backoff",
    "encode_status",
]
__version__: str

class StamenError(Exception):
    """Base class of every error raised by stamen."""

class ConfigError(StamenError):
    """A configuration value (backoff settings, an encoder input) is invalid."""

class ContextError(StamenError):
    """An OpenNebula context file could not be read or holds invalid values."""

class ExprParseError(StamenError):
    """A OneFlow elasticity expression does not parse."""

class EvalError(StamenError):
    """An expression parsed but could not be evaluated."""

class PolicyError(StamenError):
    """A OneFlow policy or role definition is invalid."""

@final
class Backoff(Iterator[float]):
    def __new__(
        cls,
        strategy: str = "exponential",
        *,
        initial: Optional[float] = None,
        multiplier: Union[float, int, str, None] = None,
        max_backoff: Optional[float] = None,
        interval: Optional[float] = None,
        jitter: str = "equal",
        max_attempts: Optional[int] = None,
        max_elapsed: Optional[float] = None,
        seed: Optional[int] = None,
    ) -> Backoff: ...
    def __iter__(self) -> Backoff: ...
    def __next__(self) -> float: ...
    def on_failure(self, now: Optional[float] = None) -> Optional[float]: ...
    def on_success(self, now: Optional[float] = None) -> None: ...
    def reset(self) -> None: ...
    def hint_retry_after(self, seconds: float) -> None: ...
    def envelope(self, retry: int) -> float: ...
    @property
    def failures(self) -> int: ...
    @property
    def gave_up(self) -> Optional[str]: ...
    @property
    def next_at(self) -> Optional[float]: ...
    @property
    def cap(self) -> float: ...

def encode_status(status: int, round: Optional[int] = None) -> bytes: ...
