"""The buffers a training step reuses, so that it allocates no arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .backend import namespace

if TYPE_CHECKING:
    from .network import Network


class Workspace:
    """The arrays one training step reuses for batches of m samples: each
    layer's Z⁽ˡ⁾, H⁽ˡ⁾ and dH⁽ˡ⁾ (m, n_l), the last also holding dZ⁽ᴸ⁾, a row
    of m ones, and the batch's rows of X and Y. Built once per fit and batch
    size, so the step allocates none of them."""

    def __init__(self, net: Network, m: int, n_targets: int) -> None:
        xp, dt, n = namespace(net.params), net.dtype, net.layer_sizes
        self.Z = [xp.empty((m, k), dtype=dt) for k in n[1:]]
        self.H = [xp.empty((m, k), dtype=dt) for k in n[1:]]
        self.dH = [xp.empty((m, k), dtype=dt) for k in n[1:]]
        self.ones = xp.ones(m, dtype=dt)
        self.X = xp.empty((m, n[0]), dtype=dt)
        self.Y = xp.empty((m, n_targets), dtype=dt)

    def head(self, m: int) -> Workspace:
        """The same buffers for the first ``m`` rows (views, no copies): one
        workspace serves batches of any size up to its own."""
        view = object.__new__(Workspace)
        view.Z, view.H, view.dH = (
            [A[:m] for A in As] for As in (self.Z, self.H, self.dH)
        )
        view.ones, view.X, view.Y = self.ones[:m], self.X[:m], self.Y[:m]
        return view
