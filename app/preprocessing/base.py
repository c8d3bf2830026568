"""The one interface every modality preprocessor implements."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np


class Preprocessor(Protocol):
    """Turns one uploaded value into the feature array for one model input.

    Built once per bundle (vocabularies, filterbanks and the like are prepared in ``__init__``);
    ``__call__`` is then safe to use from many request threads at once.
    """

    modality: ClassVar[str]
    #: Human-readable names of the formats ``__call__`` accepts, for errors and metadata.
    accepted_formats: ClassVar[tuple[str, ...]]

    #: The feature array's shape (no batch axis) and dtype; equal to the model input's.
    shape: tuple[int, ...]
    dtype: np.dtype

    def __call__(self, data: bytes | str) -> np.ndarray | dict[str, np.ndarray]:
        """Features for one upload; raises ``ServiceError`` subclasses for bad input.

        A preprocessor with ``multi_feed = True`` (HfTextPreprocessor) feeds several model inputs
        from one upload: it answers a dict keyed by its ``FEEDS``, each array of ``shape``.
        """
        ...

    def describe(self) -> dict[str, Any]:
        """Preprocessing parameters, for the model metadata route."""
        ...


def ignore_size(size: float) -> None:
    """A decoder's ``observe_size`` hook while nothing observes it (the registry sets it)."""


class PreprocessorFactory(Protocol):
    def __call__(
        self, params: dict[str, Any], *, bundle_dir: Path, shape: tuple[int, ...], dtype: str
    ) -> Preprocessor: ...
