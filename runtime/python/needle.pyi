"""Score log lines with a needle model file (docs/python.md)."""

import os
from typing import Iterable, Optional, Union

import numpy as np
import numpy.typing as npt

__version__: str

Line = Union[str, bytes, bytearray]
"""A log line: bytes as read, or str (encoded as UTF-8; a trailing newline is removed)."""

class ModelError(ValueError):
    """A model file the runtime rejects; the message says why."""

class Model:
    """A validated needle model file."""

    def __init__(self, source: Union[bytes, bytearray, memoryview, str, os.PathLike[str]]) -> None:
        """Model bytes, or a path to a model file. Raises ModelError, OSError, TypeError."""
    @staticmethod
    def from_bytes(data: Union[bytes, bytearray, memoryview]) -> Model: ...
    @staticmethod
    def from_path(path: Union[str, os.PathLike[str]]) -> Model: ...
    @property
    def window(self) -> int: ...
    @property
    def stride(self) -> int: ...
    @property
    def top_k(self) -> int: ...
    @property
    def threshold(self) -> float: ...
    @property
    def parameter_count(self) -> int: ...
    @property
    def file_size(self) -> int: ...
    def score(
        self,
        lines: Iterable[Line],
        *,
        threshold: Optional[float] = None,
        timezone: Optional[str] = None,
        timestamp_format: Optional[str] = None,
        year: Optional[int] = None,
        source: Optional[str] = None,
    ) -> Scores:
        """Scores one log's lines, in order, as `needle score` scores one file (the GIL is released)."""
    def stream(
        self,
        *,
        threshold: Optional[float] = None,
        timezone: Optional[str] = None,
        timestamp_format: Optional[str] = None,
        year: Optional[int] = None,
        source: Optional[str] = None,
    ) -> Stream: ...

class Scores:
    """Every window of a `Model.score` call, one row per window, and its alerts."""

    first_line: npt.NDArray[np.uint64]
    last_line: npt.NDArray[np.uint64]
    score: npt.NDArray[np.float32]
    flagged: npt.NDArray[np.bool_]
    unfamiliar_lines: npt.NDArray[np.uint16]
    top_line: npt.NDArray[np.int64]
    """(windows, top_k): line numbers, most attended first; -1 pads short windows."""
    top_weight: npt.NDArray[np.float32]
    """(windows, top_k): attention weights; NaN pads."""
    alerts: list[dict]
    """`needle score`'s alert rows' `data` (docs/output.md), `file` = `source`."""
    summary: dict
    threshold: float
    def __len__(self) -> int: ...

class TopLine:
    line: int
    weight: float
    text: str
    lossy: bool
    time: Optional[str]

class Bag:
    first_line: int
    last_line: int
    score: float
    anomalous: bool
    unfamiliar_lines: int
    top: list[TopLine]

class Stream:
    """Lines pushed as they arrive; windows every `stride` lines."""

    def push(self, line: Line) -> Optional[Bag]: ...
    def push_many(self, lines: Iterable[Line]) -> list[Bag]: ...
    def finish(self) -> Optional[Bag]: ...
    def alerts(self) -> list[dict]:
        """Alerts closed since the last call, oldest first."""
    def summary(self) -> dict: ...
    @property
    def lines_seen(self) -> int: ...
    @property
    def threshold(self) -> float: ...
    @property
    def finished(self) -> bool: ...
