"""What a training run saw, epoch by epoch, and its CSV and JSON forms."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class History:
    """What ``fit`` saw, one entry per epoch (lists index epochs from 0).

    ``loss``: training loss, the mean over the epoch's batches;
    ``val_loss`` / ``val_metric``: on the validation data (empty without it);
    ``grad_norms[e][l]``: layer l+1's gradient norm ‖(dW, db)‖₂, as the root
    mean square over the epoch's steps, to see vanishing or exploding gradients;
    ``lr``: the learning rate used; ``best_epoch``: the epoch with the lowest
    monitored loss (validation loss if there is validation data).
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    metric: str | None = None
    grad_norms: list[list[float]] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        """The number of epochs run."""
        return len(self.loss)

    def record(self, logs: dict[str, Any]) -> None:
        """Append one epoch's logs (``loss``, ``lr``, ``grad_norms`` and, when
        there is validation data, ``val_loss`` and ``val_<metric>``)."""
        self.loss.append(logs["loss"])
        self.grad_norms.append(logs["grad_norms"])
        self.lr.append(logs["lr"])
        if "val_loss" in logs:
            self.val_loss.append(logs["val_loss"])
        metric = logs.get(f"val_{self.metric}")
        if metric is not None:
            self.val_metric.append(metric)

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, ready for JSON."""
        return asdict(self)

    def to_json(self) -> bytes:
        """Strict JSON: a value that is not finite is written as null."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        data = {k: clean(v) for k, v in self.as_dict().items()}
        return json.dumps(data, indent=1, allow_nan=False).encode()

    def to_csv(self) -> str:
        """One row per epoch: epoch, loss, val_loss, val_<metric>, lr and each
        layer's gradient norm (empty cells where there was no validation)."""
        n_layers = len(self.grad_norms[0]) if self.grad_norms else 0
        metric = f"val_{self.metric}" if self.metric else "val_metric"
        head = ["epoch", "loss", "val_loss", metric, "lr"]
        head += [f"grad_norm_layer{l + 1}" for l in range(n_layers)]
        lines = [",".join(head)]
        for e in range(self.epochs):
            val = self.val_loss[e] if e < len(self.val_loss) else ""
            met = self.val_metric[e] if e < len(self.val_metric) else ""
            row = [e + 1, self.loss[e], val, met, self.lr[e], *self.grad_norms[e]]
            lines.append(",".join(map(str, row)))
        return "\n".join(lines) + "\n"
