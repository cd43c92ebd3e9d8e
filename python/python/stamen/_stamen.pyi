"""Type stubs of the native module ``stamen._stamen`` (checked by mypy.stubtest).

The public API is the package ``stamen``, which re-exports these names.
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional, Union, final

__all__ = [
    "__version__",
    "StamenError",
    "ContextError",
    "ConfigError",
    "ExprParseError",
    "EvalError",
    "IpcError",
    "PolicyError",
    "Backoff",
    "encode_status",
    "decode_status",
    "encode_onegate_update",
    "encode_onegate_erase",
    "encode_onegate_status",
    "ContextIssue",
    "EdgeConfig",
    "parse_context",
    "Expression",
    "Evaluation",
    "evaluate",
    "ruby_to_f",
    "ruby_float_to_s",
    "new_cardinality",
    "LintFinding",
    "lint_policy",
]

__version__: str

class StamenError(Exception):
    """Base class of every error raised by stamen."""

class ConfigError(StamenError):
    """A configuration value (backoff settings, an encoder input) is invalid.

    Encoder errors set ``key`` and ``offset``; other errors leave them unset.
    """

    key: Optional[str]
    offset: Optional[int]

class ContextError(StamenError):
    """An OpenNebula context file could not be read or holds invalid values."""

    filename: Optional[str]
    line: Optional[int]
    column: Optional[int]
    key: Optional[str]
    errors: list[ContextIssue]

class ExprParseError(StamenError):
    """A OneFlow elasticity expression does not parse.

    ``failure_reason``, ``index`` (0-based) and ``column`` (1-based) are Treetop's
    report and ``trace`` OneFlow's ``Parse error. '<expr>': …``; all ``None`` for
    an empty or too complex expression.
    """

    expression: str
    index: Optional[int]
    column: Optional[int]
    failure_reason: Optional[str]
    trace: Optional[str]

class EvalError(StamenError):
    """An expression parsed but could not be evaluated (OneFlow itself would raise)."""

    ruby_class: str
    ruby_message: str

class IpcError(StamenError):
    """A status datagram is not valid wire format v1."""

    offset: int

class PolicyError(StamenError):
    """A OneFlow policy or role definition is invalid (or OneFlow would crash on it)."""

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
def decode_status(datagram: bytes) -> tuple[int, Optional[int]]: ...
def encode_onegate_update(attrs: Mapping[str, Union[str, int, float]]) -> str: ...
def encode_onegate_erase(key: str) -> str: ...
def encode_onegate_status(status: int, round: int = 0) -> str: ...

@final
class ContextIssue:
    @property
    def line(self) -> Optional[int]: ...
    @property
    def column(self) -> Optional[int]: ...
    @property
    def offset(self) -> Optional[int]: ...
    @property
    def key(self) -> Optional[str]: ...
    @property
    def value(self) -> Optional[str]: ...
    @property
    def message(self) -> str: ...

@final
class EdgeConfig:
    @staticmethod
    def from_vars(vars: Mapping[str, str], *, filename: Optional[str] = None) -> EdgeConfig: ...
    @staticmethod
    def from_context(
        text: Union[str, bytes], *, dialect: str = "context.sh", filename: Optional[str] = None
    ) -> EdgeConfig: ...
    @property
    def superlink(self) -> Optional[str]: ...
    @property
    def backoff(self) -> str: ...
    @property
    def max_backoff(self) -> int: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def max_wait_time(self) -> int: ...
    @property
    def node_config(self) -> dict[str, Union[bool, int, float, str]]: ...
    @property
    def node_config_text(self) -> str: ...
    @property
    def isolation(self) -> str: ...
    @property
    def log_level(self) -> str: ...
    @property
    def tls_enabled(self) -> bool: ...
    @property
    def min_fit_clients(self) -> Optional[int]: ...
    @property
    def vmid(self) -> Optional[int]: ...
    @property
    def onegate_endpoint(self) -> Optional[str]: ...
    def new_backoff(self, *, jitter: str = "equal", seed: Optional[int] = None) -> Backoff: ...

def parse_context(
    text: Union[str, bytes], *, dialect: str = "context.sh", filename: Optional[str] = None
) -> tuple[dict[str, str], list[str]]: ...

@final
class Evaluation:
    def __new__(cls, value: bool, trace: str) -> Evaluation: ...
    @property
    def value(self) -> bool: ...
    @property
    def trace(self) -> str: ...
    def __bool__(self) -> bool: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Expression:
    def __new__(cls, source: str) -> Expression: ...
    @property
    def source(self) -> str: ...
    @property
    def variables(self) -> list[str]: ...
    @property
    def tree(self) -> str: ...
    def evaluate(
        self, vars: Optional[Mapping[str, Any]] = None, vms: Optional[Sequence[Mapping[str, Any]]] = None
    ) -> Evaluation: ...

def evaluate(
    expr: str, vars: Optional[Mapping[str, Any]] = None, vms: Optional[Sequence[Mapping[str, Any]]] = None
) -> Evaluation: ...
def ruby_to_f(text: str) -> float: ...
def ruby_float_to_s(value: float) -> str: ...
def new_cardinality(role: Mapping[str, Any], policy: Mapping[str, Any]) -> int: ...

@final
class LintFinding:
    @property
    def code(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def fix(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...

def lint_policy(
    doc: Mapping[str, Any],
    *,
    min_fit_clients: Optional[int] = None,
    round_seconds: Optional[int] = None,
    extra_attributes: Optional[Sequence[str]] = None,
) -> list[LintFinding]: ...
