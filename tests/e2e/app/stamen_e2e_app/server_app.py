"""ServerApp: plain FedAvg over two nodes for `num-server-rounds` rounds."""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from .task import FEATURES

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run FedAvg from zero weights and print the final weights."""
    rounds = int(context.run_config["num-server-rounds"])
    strategy = FedAvg(min_train_nodes=2, min_evaluate_nodes=2, min_available_nodes=2)
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord([np.zeros(FEATURES)]),
        num_rounds=rounds,
    )
    final = result.arrays.to_numpy_ndarrays()[0]
    print(f"stamen-e2e final weights: {np.round(final, 3).tolist()}")
