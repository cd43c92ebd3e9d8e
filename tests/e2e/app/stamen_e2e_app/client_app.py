"""ClientApp: trains the linear model on this node's partition.

`status_mod` reports TRAINING/IDLE with the server round to the local stamen agent.
"""

from __future__ import annotations

import time

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from stamen.flower import status_mod

from .task import load_partition, loss, train

app = ClientApp(mods=[status_mod])


def _partition(context: Context) -> int:
    return int(context.node_config.get("partition-id", 0))


@app.train()
def train_fn(msg: Message, context: Context) -> Message:
    """Fit locally, reply with the new weights and the number of examples."""
    x, y = load_partition(_partition(context))
    weights = msg.content["arrays"].to_numpy_ndarrays()[0]
    new_weights = train(weights, x, y)
    # Make the round last long enough for the agent to publish TRAINING
    # (it coalesces status changes within its minimum publish interval).
    time.sleep(float(context.run_config.get("train-seconds", 0.0)))
    content = RecordDict(
        {
            "arrays": ArrayRecord([new_weights]),
            "metrics": MetricRecord({"train_loss": loss(new_weights, x, y), "num-examples": len(y)}),
        }
    )
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate_fn(msg: Message, context: Context) -> Message:
    """Evaluate the global weights on this node's partition."""
    x, y = load_partition(_partition(context))
    weights = msg.content["arrays"].to_numpy_ndarrays()[0]
    content = RecordDict({"metrics": MetricRecord({"eval_loss": loss(weights, x, y), "num-examples": len(y)})})
    return Message(content=content, reply_to=msg)
