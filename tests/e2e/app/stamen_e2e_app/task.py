"""A linear model y = X·w fitted by a few steps of gradient descent, in numpy.

Each node gets its own deterministic synthetic partition, so the app needs no
data set and no network access.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FEATURES = 4
TRUE_WEIGHTS = np.array([1.5, -2.0, 0.5, 3.0])


def load_partition(partition_id: int, samples: int = 64) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return (X, y) for one partition; the same id always gives the same data."""
    rng = np.random.default_rng(1000 + partition_id)
    x = rng.normal(size=(samples, FEATURES))
    y = x @ TRUE_WEIGHTS + rng.normal(scale=0.1, size=samples)
    return x, y


def train(weights: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64], steps: int = 20, lr: float = 0.05) -> NDArray[np.float64]:
    """Gradient descent on the mean squared error; returns the new weights."""
    w = weights.copy()
    for _ in range(steps):
        grad = 2.0 * x.T @ (x @ w - y) / len(y)
        w -= lr * grad
    return w


def loss(weights: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Mean squared error."""
    return float(np.mean((x @ weights - y) ** 2))
