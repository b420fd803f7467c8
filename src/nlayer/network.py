"""The L-layer network of the seeds: forward, backward, loss, summary.

Notation is the seeds': for layers l = 1..L,

    Z⁽ˡ⁾ = H⁽ˡ⁻¹⁾ W⁽ˡ⁾ + b⁽ˡ⁾,   H⁽ˡ⁾ = σₗ(Z⁽ˡ⁾),   H⁽⁰⁾ = X,   Ŷ = H⁽ᴸ⁾.

Python lists count from 0, as the seeds' reference class does: ``weights[0]``
is W⁽¹⁾, ``Z[0]`` is Z⁽¹⁾ and ``H[0]`` is X. Messages count layers from 1.

All parameters live in one flat buffer ``params``: first every layer's W
(row-major), then every layer's b. ``weights[l]`` and ``biases[l]`` are views
into it, so the maths reads per layer while an optimiser step, a checkpoint or
a gradient check works on one vector. Gradients use the same layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np

from .activations import Activation, check_activation, get_activation
from .activations import is_builtin as is_builtin_activation
from .backend import (
    Array,
    as_dtype,
    as_matrix,
    as_matrix_xp,
    as_weights,
    as_weights_xp,
    check_device,
    check_memory,
    device_of,
    get_namespace,
    is_sparse,
    library_of,
    n_rows,
    namespace,
    same_place,
    to_numpy,
)
from .checks import is_number, positive_int
from .initializers import Initializer, initial_weights
from .losses import Loss, check_loss, get_loss
from .losses import is_builtin as is_builtin_loss
from .workspace import Workspace

if TYPE_CHECKING:
    from .training import History


class LayerArrays(list[Any]):
    """The per-layer views (``weights`` or ``biases``) into the flat buffer.

    Assigning ``net.weights[l] = A`` copies ``A`` into the buffer (checking its
    shape) instead of replacing the view, so the buffer stays the one truth.
    """

    def __init__(self, views: list[Array], kind: str) -> None:
        super().__init__(views)
        self.kind = kind

    def __setitem__(self, l: Any, value: Any) -> None:
        if not isinstance(l, Integral):
            raise TypeError(f"assign {self.kind} one layer at a time, e.g. [0]")
        view = self[l]
        value = np.asarray(to_numpy(value))  # read on the host, then put in place
        if value.shape != tuple(view.shape):
            raise ValueError(
                f"layer {int(l) % len(self) + 1} {self.kind} have shape "
                f"{tuple(view.shape)}, got an array of shape {value.shape}"
            )
        if isinstance(view, np.ndarray):
            view[...] = value
        else:
            xp = namespace(view)
            view[...] = xp.asarray(value, dtype=view.dtype, device=device_of(view))

    def _fixed(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            f"the number of layers is fixed; the {self.kind} list cannot change"
        )

    append = extend = insert = pop = remove = clear = __delitem__ = __iadd__ = _fixed  # type: ignore[assignment]


class Network:
    """A fully-connected network of L layers with one activation per layer.

    Args:
        layer_sizes: ``[n_0, n_1, ..., n_L]``; n_0 inputs, n_L outputs.
        activations: L activations (names or objects), one per layer.
        loss: a loss name or object; see :mod:`nlayer.losses`.
        init: initialiser name, callable, or a list with one per layer;
            default: He for the ReLU family, Xavier otherwise (the seeds' rule).
        seed: seed (or ``numpy.random.Generator``) for all of the network's
            randomness: initial weights and the shuffling in ``fit``.
        dtype: ``"float64"`` or ``"float32"``, the dtype of every computation.
        check: check custom activations and losses against finite differences.
        dropout: the rate at which training drops each hidden layer's units
            (inverted dropout: the kept ones are scaled by 1/(1 − rate)); one
            rate for every hidden layer or one per hidden layer. Prediction
            uses every unit.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activations: Sequence[str | Any],
        loss: str | Any = "mse",
        *,
        init: str | Initializer | Sequence[str | Initializer] | None = None,
        seed: int | np.random.Generator | None = None,
        dtype: Any = "float64",
        check: bool = True,
        dropout: float | Sequence[float] | None = None,
    ) -> None:
        sizes = _check_sizes(layer_sizes)
        L = len(sizes) - 1
        if isinstance(activations, (str, bytes)) or not isinstance(
            activations, Sequence
        ):
            raise ValueError(
                f"activations must be a list with one entry per layer ({L} layers), "
                f"got {activations!r}"
            )
        if len(activations) != L:
            raise ValueError(
                f"expected {L} activations, one per layer of "
                f"{' -> '.join(map(str, sizes))}, got {len(activations)}"
            )
        acts = []
        for l, spec in enumerate(activations, start=1):
            try:
                acts.append(get_activation(spec))
            except (ValueError, TypeError) as e:
                raise type(e)(f"layer {l}: {e}") from None
        self._setup(
            sizes, acts, get_loss(loss), as_dtype(dtype), np.random.default_rng(seed)
        )
        self._check_structure(check)
        self.dropout = check_dropout(dropout, L - 1)

        inits: list[Any] = (
            list(init)
            if isinstance(init, Sequence) and not isinstance(init, str)
            else [init] * L
        )
        if len(inits) != L:
            raise ValueError(
                f"expected {L} initializers, one per layer, got {len(inits)}"
            )
        for l in range(L):
            fan_in, fan_out = sizes[l], sizes[l + 1]
            spec = inits[l] if inits[l] is not None else acts[l].init
            self.weights[l] = initial_weights(spec, self.rng, fan_in, fan_out)
            # biases stay zero, as in the seeds

    def _setup(
        self,
        sizes: tuple[int, ...],
        acts: list[Activation],
        loss: Loss,
        dtype: np.dtype,
        rng: np.random.Generator,
        params: Array | None = None,
    ) -> None:
        self.layer_sizes = sizes
        self.activations = tuple(acts)
        self.loss_function = loss
        self.dtype = dtype
        self.rng = rng
        shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.n_weights = sum(a * b for a, b in shapes)
        n_params = self.n_weights + sum(sizes[1:])
        if params is None:
            check_memory(
                n_params * dtype.itemsize,
                f"the network {' -> '.join(map(str, sizes))} ({n_params:,} "
                f"{dtype.name} parameters)",
            )
        self.params = np.zeros(n_params, dtype=dtype) if params is None else params
        self._make_views()

    def _make_views(self) -> None:
        # where the parameters live: NumPy (the fast path) or an array library
        self.xp = namespace(self.params)
        self.backend = library_of(self.params)
        self.device = device_of(self.params)
        self._weights, self._biases = self.split(self.params)
        self._layers = list(
            zip(self._weights, self._biases, self.activations, strict=True)
        )

    def _check_structure(self, check: bool) -> None:
        acts, loss = self.activations, self.loss_function
        check_structure(self.layer_sizes, acts, loss)
        if not check:
            return
        for l, act in enumerate(acts, start=1):
            if not is_builtin_activation(act):
                try:
                    check_activation(act, dtype=self.dtype)
                except ValueError as e:
                    raise ValueError(f"layer {l}: {e}") from None
        if not is_builtin_loss(loss):
            check_loss(loss)

    # -- structure ---------------------------------------------------------

    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.layer_sizes) - 1

    @property
    def n_params(self) -> int:
        """The number of trainable numbers, Σₗ (n_{l−1}·n_l + n_l)."""
        return self.n_weights + sum(self.layer_sizes[1:])  # any backend's buffer

    @property
    def weights(self) -> LayerArrays:
        """``weights[l]``: W⁽ˡ⁺¹⁾, shape (n_l, n_{l+1}), a view into ``params``."""
        return self._weights

    @weights.setter
    def weights(self, arrays: Sequence[Array]) -> None:
        self._assign(self._weights, arrays)

    @property
    def biases(self) -> LayerArrays:
        """``biases[l]``: b⁽ˡ⁺¹⁾, shape (n_{l+1},), a view into ``params``."""
        return self._biases

    @biases.setter
    def biases(self, arrays: Sequence[Array]) -> None:
        self._assign(self._biases, arrays)

    def _assign(self, views: LayerArrays, arrays: Sequence[Array]) -> None:
        if len(arrays) != len(views):
            raise ValueError(
                f"expected {len(views)} {views.kind} arrays, got {len(arrays)}"
            )
        for l, A in enumerate(arrays):
            views[l] = A

    def split(self, flat: Array) -> tuple[LayerArrays, LayerArrays]:
        """Per-layer (W, b) views into a flat buffer laid out like ``params``."""
        Ws, bs = [], []
        w, b, xp = 0, self.n_weights, namespace(flat)
        for n_in, n_out in zip(
            self.layer_sizes[:-1], self.layer_sizes[1:], strict=True
        ):
            Ws.append(xp.reshape(flat[w : w + n_in * n_out], (n_in, n_out)))
            bs.append(flat[b : b + n_out])
            w += n_in * n_out
            b += n_out
        return LayerArrays(Ws, "weights"), LayerArrays(bs, "biases")

    # -- input checks --------------------------------------------------------

    def check_X(self, X: Any) -> Array:
        """X as a (m, n_0) array of the network's dtype, on the network's
        backend and device, or a ValueError."""
        X = self._as_matrix(X, "X")
        if X.shape[1] != self.layer_sizes[0]:
            raise ValueError(
                f"layer 1 expects {self.layer_sizes[0]} inputs, got {X.shape[1]} "
                f"(X has shape {X.shape})"
            )
        return X

    def check_XY(self, X: Any, Y: Any) -> tuple[Array, Array]:
        """X (m, n_0) and Y (m, n_L) checked together, or a ValueError."""
        X = self.check_X(X)
        Y = self._as_matrix(Y, "Y")
        n_out = self.layer_sizes[-1]
        if Y.shape[1] != n_out:
            raise ValueError(
                f"the output layer (layer {self.n_layers}) has {n_out} units, "
                f"got Y with {Y.shape[1]} columns (shape {Y.shape})"
            )
        if n_rows(X) != n_rows(Y):
            raise ValueError(
                f"X has {n_rows(X)} rows but Y has {n_rows(Y)}; "
                "they must hold the same samples"
            )
        self.loss_function.check_targets(Y)
        return X, Y

    def check_weights(self, sample_weight: Any, m: int) -> Array | None:
        """Sample weights (m,) of the network's dtype, or a ValueError; None stays."""
        if sample_weight is None:
            return None
        same_place(sample_weight, "sample_weight", self.backend, self.device)
        if self.backend == "numpy":
            return as_weights(sample_weight, m, self.dtype)
        return as_weights_xp(sample_weight, m, self.dtype)

    def _as_matrix(self, A: Any, name: str) -> Array:
        same_place(A, name, self.backend, self.device)
        if self.backend == "numpy":
            return as_matrix(A, name, self.dtype)
        return as_matrix_xp(A, name, self.dtype)

    # -- the maths -----------------------------------------------------------

    def forward(self, X: Any, work: Workspace | None = None) -> Array:
        """Ŷ = H⁽ᴸ⁾ for X: (m, n_0) -> (m, n_L).

        With a :class:`Workspace` of at least m rows, the layers are computed
        in its buffers (no allocation: measured 2.5× faster on 10⁶ rows in
        chunks), and Ŷ is a view into it that the next call overwrites.
        """
        X = self.check_X(X)
        if work is not None:
            work = work.head(n_rows(X))
        return self.forward_pass(X, None, work)[1][-1]

    def forward_pass(
        self,
        X: Any,
        masks: list[Array | None] | None = None,
        work: Workspace | None = None,
    ) -> tuple[list[Array], list[Array]]:
        """(Z, H) of every layer: ``Z[l]`` is Z⁽ˡ⁺¹⁾, shape (m, n_{l+1});
        ``H[l]`` is H⁽ˡ⁾, shape (m, n_l), with H[0] = X. With dropout
        ``masks`` (see :meth:`dropout_masks`), a hidden H⁽ˡ⁾ is the dropped-out
        σ(Z⁽ˡ⁾) ⊙ M⁽ˡ⁾ that the next layer sees. With a :class:`Workspace` of
        m rows, every Z and H is computed in its buffers (``fit`` reuses one
        per batch size), and the next call overwrites them."""
        # training passes arrays that are already right thousands of times a
        # second: recognise them at once, check everything else in full
        n0, fast = self.layer_sizes[0], self.backend == "numpy"
        if type(X) is np.ndarray and fast:
            if not (X.dtype == self.dtype and X.ndim == 2 and X.shape[1] == n0):
                X = self.check_X(X)
        elif not (fast and is_sparse(X) and X.dtype == self.dtype and X.shape[1] == n0):
            X = self.check_X(X)
        Z: list[Array] = []
        H: list[Array] = [X]
        sparse = type(X) is not np.ndarray and is_sparse(X)
        for l, (W, b, act) in enumerate(self._layers):
            if l == 0 and sparse:  # a sparse first layer: SciPy's product
                Z_l = np.asarray(X @ W)
            elif fast and work is not None:  # into the workspace's buffer
                Z_l = np.dot(H[l], W, out=work.Z[l])  # see _backward on np.dot
            elif fast:
                Z_l = np.matmul(H[l], W)
            else:
                Z_l = H[l] @ W
            if work is None:
                Z_l += b  # Z = H_prev W + b, the bias added in place
                H_l = act.forward(Z_l)
            else:  # the same two lines into the workspace, one pass where fused
                H_l = act.bias_forward_into(Z_l, b, work.H[l])
            if masks is not None and l < len(masks) and masks[l] is not None:
                H_l = H_l * masks[l]  # dropout: D = σ(Z) ⊙ M, M = 0 or 1/(1 − p)
            Z.append(Z_l)
            H.append(H_l)  # H = σ(Z)
        return Z, H

    def dropout_masks(
        self, m: int, rng: np.random.Generator | None = None
    ) -> list[Array | None] | None:
        """One inverted-dropout mask (m, n_l) per hidden layer: each entry 0
        with probability p, else 1/(1 − p); None for a layer without dropout,
        and None altogether for a network without any. Drawn from ``rng``
        (default: the network's own, as training draws them)."""
        if not any(self.dropout):
            return None
        rng = self.rng if rng is None else rng
        masks: list[Array | None] = []
        for p, n in zip(self.dropout, self.layer_sizes[1:-1], strict=True):
            if not p:
                masks.append(None)
                continue
            keep = rng.random((m, n)) >= p
            mask = keep.astype(self.dtype) * self.dtype.type(1 / (1 - p))
            # drawn on the host, so that every backend draws the same masks
            masks.append(mask if self.backend == "numpy" else self._here(mask))
        return masks

    def _here(self, A: np.ndarray) -> Array:
        """A host array on the parameters' backend and device: always a copy
        (PyTorch on the CPU would otherwise share a read-only buffer, such as
        a checkpoint's, and warn)."""
        return self.xp.asarray(A, device=self.device, copy=True)

    def on_device(self, A: Any) -> Array:
        """A host array (a table's, a checkpoint's) where the parameters live:
        itself for NumPy, a copy on another library's device."""
        if self.backend == "numpy":
            return A  # already here: no copy
        return self._here(np.asarray(A))

    def backward(
        self,
        Z: list[Array],
        H: list[Array],
        Y: Any,
        out: Array | None = None,
        sample_weight: Array | None = None,
        masks: list[Array | None] | None = None,
        work: Workspace | None = None,
    ) -> tuple[LayerArrays, LayerArrays]:
        """(dW, db) from a forward pass's Z, H and the targets Y (m, n_L).

        Math, for l = L down to 1 (seed 001's four steps):
            dZ = dH ⊙ σ′(Z)            (dZ = Ŷ − Y at the output when fused)
            dW = H_prevᵀ dZ / m        (n_{l−1}, n_l)
            db = Σ_rows dZ / m         (n_l,)
            dH_prev = dZ Wᵀ            (skipped for the input layer)

        Writes into ``out`` when given: a flat buffer laid out like ``params``,
        or its (dW, db) views from :meth:`split` (a training loop splits once).
        With ``sample_weight`` (m,), the output delta's rows are scaled by
        wᵢ·m/Σw: the gradient of the weighted mean loss Σ wᵢℓᵢ / Σ w. With
        the dropout ``masks`` of the forward pass, dH of a hidden layer is
        multiplied by its mask before σ′ (the chain rule through D = σ(Z) ⊙ M).
        With the forward pass's :class:`Workspace`, the deltas use its buffers.
        """
        if isinstance(out, tuple):  # (dW, db) views, split once by the caller
            dW, db = out
        else:
            flat = self.xp.empty_like(self.params) if out is None else out
            dW, db = self.split(flat)
        self._backward(Z, H, Y, dW, db, sample_weight, work, masks)
        return dW, db

    def _backward(
        self,
        Z: list[Array],
        H: list[Array],
        Y: Array,
        dW: Sequence[Array],
        db: Sequence[Array],
        sample_weight: Array | None = None,
        work: Workspace | None = None,
        masks: list[Array | None] | None = None,
    ) -> None:
        if self.backend != "numpy":  # another library: the same lines, new arrays
            self._backward_xp(Z, H, Y, dW, db, sample_weight, masks)
            return
        loss, L, acts = self.loss_function, self.n_layers, self.activations
        if loss.fused_with is not None:
            dZ = loss.fused_delta(H[L], Y, None if work is None else work.dH[L - 1])
        else:
            dY = loss.sample_gradient(H[L], Y)  # m·∂L/∂Ŷ
            dZ = acts[L - 1].backward_into(dY, Z[L - 1], H[L])
        # The mean's 1/m (or the weights wᵢ/Σw), applied once to the output delta:
        # every dW, db and dH below is linear in it, so none needs its own pass.
        if sample_weight is None:
            dZ *= 1 / len(Y)
        else:
            dZ *= (sample_weight / sample_weight.sum())[:, None]
        # Σ_rows as a product with a row of ones: one BLAS call, faster than a
        # reduction, and the same in fit() as in gradients()
        ones = np.ones(len(Y), dtype=self.dtype) if work is None else work.ones
        # Training's buffers are C-ordered and of the right dtype, which np.dot
        # requires of out=: it then calls the same BLAS routine as np.matmul,
        # for the same bits, without the ufunc machinery (0.3–0.8 µs less a
        # product, a sixth of the seeds' tiny epoch). Other callers' out=
        # arrays may be anything: np.matmul takes them all.
        product = np.matmul if work is None else np.dot
        for l in range(L - 1, -1, -1):
            if l == 0 and type(H[0]) is not np.ndarray and is_sparse(H[0]):
                dW[0][...] = H[0].T @ dZ  # a sparse first layer: SciPy's product
            else:
                product(H[l].T, dZ, out=dW[l])  # dW = H_prevᵀ dZ  (1/m is in dZ)
            product(ones, dZ, out=db[l])  # db = Σ_rows dZ = 1ᵀdZ
            if l > 0:
                out = None if work is None else work.dH[l - 1]
                dH = product(dZ, self._weights[l].T, out=out)  # dH_prev = dZ Wᵀ
                mask = None if masks is None else masks[l - 1]
                if mask is None:
                    dZ = acts[l - 1].backward_into(dH, Z[l - 1], H[l])  # dH ⊙ σ′(Z)
                else:  # H holds σ(Z) ⊙ M: σ′ from Z alone, dH through the mask
                    dH *= mask
                    dZ = dH * acts[l - 1].derivative(Z[l - 1])

    def _backward_xp(
        self,
        Z: list[Array],
        H: list[Array],
        Y: Array,
        dW: Sequence[Array],
        db: Sequence[Array],
        sample_weight: Array | None,
        masks: list[Array | None] | None,
    ) -> None:
        """:meth:`_backward` on another array library: the same steps in its
        namespace and on its device, each product a new array."""
        loss, L, acts, xp = self.loss_function, self.n_layers, self.activations, self.xp
        if loss.fused_with is not None:
            dZ = loss.fused_delta(H[L], Y)
        else:
            dZ = acts[L - 1].backward(loss.sample_gradient(H[L], Y), Z[L - 1], H[L])
        if sample_weight is None:
            dZ = dZ * (1 / Y.shape[0])
        else:
            dZ = dZ * (sample_weight / xp.sum(sample_weight))[:, None]
        for l in range(L - 1, -1, -1):
            dW[l][...] = H[l].T @ dZ  # dW = H_prevᵀ dZ  (1/m is in dZ)
            db[l][...] = xp.sum(dZ, axis=0)  # db = Σ_rows dZ
            if l > 0:
                dH = dZ @ self._weights[l].T  # dH_prev = dZ Wᵀ
                mask = None if masks is None else masks[l - 1]
                if mask is None:
                    dZ = acts[l - 1].backward(dH, Z[l - 1], H[l])  # dH ⊙ σ′(Z)
                else:  # H holds σ(Z) ⊙ M: σ′ from Z alone, dH through the mask
                    dZ = (dH * mask) * acts[l - 1].derivative(Z[l - 1])

    def gradients(
        self,
        X: Any,
        Y: Any,
        sample_weight: Any = None,
        masks: list[Array | None] | None = None,
    ) -> tuple[LayerArrays, LayerArrays]:
        """(dWs, dbs): ∂L/∂W⁽ˡ⁾ and ∂L/∂b⁽ˡ⁾ shaped like ``weights`` and ``biases``;
        with dropout ``masks``, of the network those masks thin out.

        Changes no weight. The arrays are fresh views of one flat buffer.
        """
        X, Y = self.check_XY(X, Y)
        w = self.check_weights(sample_weight, n_rows(X))
        Z, H = self.forward_pass(X, masks)
        return self.backward(Z, H, Y, sample_weight=w, masks=masks)

    def loss(
        self,
        X: Any,
        Y: Any,
        sample_weight: Any = None,
        masks: list[Array | None] | None = None,
    ) -> float:
        """L(Ŷ, Y) for X (m, n_0) and Y (m, n_L), a float; with ``sample_weight``
        (m,), the weighted mean Σ wᵢℓᵢ / Σ w; with dropout ``masks``, of the
        thinned network."""
        X, Y = self.check_XY(X, Y)
        w = self.check_weights(sample_weight, n_rows(X))
        Z, H = self.forward_pass(X, masks)
        return self.loss_from(Z, H, Y, w)

    def loss_from(
        self,
        Z: list[Array],
        H: list[Array],
        Y: Array,
        sample_weight: Array | None = None,
    ) -> float:
        """L from a forward pass's Z and H (see :meth:`forward_pass`) and the
        targets Y (m, n_L): no second forward pass."""
        loss = self.loss_function
        if loss.fused_with is not None:  # from the logits Z_L: finite as p → 0
            if sample_weight is None:
                return loss.value_from_logits(Z[-1], Y)
            per = loss.samples_from_logits(Z[-1], Y)
        elif sample_weight is None:
            return loss.value(H[-1], Y)
        else:
            per = loss.samples(H[-1], Y)
        if self.backend != "numpy":
            xp = self.xp
            return float(xp.sum(sample_weight * per) / xp.sum(sample_weight))
        return float(np.dot(sample_weight, per) / sample_weight.sum())

    # -- training and inspection --------------------------------------------

    def fit(
        self,
        X: Any,
        Y: Any,
        epochs: int = 1000,
        optimizer: Any = "sgd",
        lr: float | None = None,
        batch_size: int | None = None,
        verbose: bool | int = False,
        **options: Any,
    ) -> History:
        """Train in place; see :func:`nlayer.training.fit` for every option."""
        from .training import fit  # the training loop sits a floor above

        return fit(
            self,
            X,
            Y,
            epochs=epochs,
            optimizer=optimizer,
            lr=lr,
            batch_size=batch_size,
            verbose=verbose,
            **options,
        )

    def spec(self) -> dict[str, Any]:
        """The architecture as plain data: sizes, activations and loss by name
        with their parameters, dtype. Equal specs mean the same function."""
        return {
            "layer_sizes": list(self.layer_sizes),
            "activations": [
                {"name": a.name, "params": a.params()} for a in self.activations
            ],
            "loss": {
                "name": self.loss_function.name,
                "params": self.loss_function.params(),
            },
            "dtype": self.dtype.name,
            # only a network that drops units says so: older checkpoints match
            **({"dropout": list(self.dropout)} if any(self.dropout) else {}),
        }

    def __getstate__(self) -> dict[str, Any]:
        # the views are rebuilt from the buffer: pickling them would copy them
        # apart from it, and weights[l] would no longer be params' memory
        return {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("_weights", "_biases", "_layers", "xp")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # a network pickled before dropout existed drops nothing
        self.__dict__.setdefault("dropout", (0.0,) * (len(self.layer_sizes) - 2))
        self._make_views()

    def to(self, backend: str = "numpy", device: Any = None) -> Network:
        """Move the parameters to ``backend`` ("numpy", "torch", "cupy",
        "array_api_strict") on ``device`` (e.g. "cuda:0"; default: the
        library's); in place, and returns the network. Training, predictions
        and gradients then compute there, on arrays of that backend and device."""
        xp = get_namespace(backend)
        check_device(backend, device)
        host = np.array(to_numpy(self.params))
        if xp is np:
            if device not in (None, "cpu"):
                raise ValueError(
                    f"NumPy computes on the cpu, not on {device!r}: name the library "
                    f"too, e.g. backend='torch' or 'cupy'"
                )
            self.params = host
        else:
            try:
                self.params = xp.asarray(host, device=device)
            except Exception as e:  # noqa: BLE001 - each library fails its own way
                where = "its default device" if device is None else repr(device)
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                msg = f"{backend} cannot compute on {where}: {first}"
                raise ValueError(msg) from None
        self._make_views()
        return self

    def copy(self, dtype: Any = None) -> Network:
        """An independent copy (parameters and RNG state), optionally cast."""
        import copy as _copy

        new = object.__new__(Network)
        dt = self.dtype if dtype is None else as_dtype(dtype)
        new._setup(
            self.layer_sizes,
            list(self.activations),
            self.loss_function,
            dt,
            _copy.deepcopy(self.rng),
            self.params.astype(dt, copy=True)
            if self.backend == "numpy"
            else self.xp.astype(self.params, getattr(self.xp, dt.name), copy=True),
        )
        new.dropout = self.dropout
        return new

    def summary(self, batch_size: int = 1) -> str:
        """The seeds' dimension-tracking template for this network, batch size m."""
        return template(
            self.layer_sizes,
            self.activations,
            self.loss_function,
            self.dtype,
            batch_size,
            self.dropout,
        )

    def __repr__(self) -> str:
        acts = ", ".join(
            repr(a) if a.params() else repr(a.name) for a in self.activations
        )
        loss = self.loss_function
        return (
            f"Network({list(self.layer_sizes)}, [{acts}], "
            f"loss={repr(loss) if loss.params() else repr(loss.name)}, "
            f"dtype='{self.dtype}')"
        )


def _check_sizes(layer_sizes: Any) -> tuple[int, ...]:
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise ValueError(f"layer_sizes must be a list of integers, got {layer_sizes!r}")
    if len(layer_sizes) < 2:
        raise ValueError(
            "layer_sizes needs at least two entries (inputs and outputs), "
            f"got {list(layer_sizes)}"
        )
    for i, n in enumerate(layer_sizes):
        if not is_number(n, 1, integer=True):
            raise ValueError(
                f"layer sizes must be positive integers; layer_sizes[{i}] is {n!r}"
            )
    return tuple(int(n) for n in layer_sizes)


def check_structure(
    layer_sizes: Sequence[int], acts: Sequence[Activation], loss: Loss
) -> None:
    """Raise a ValueError for a network the maths does not allow: softmax on a
    hidden layer or over one output, a fused loss on the wrong output layer."""
    L = len(acts)
    for l, act in enumerate(acts[:-1], start=1):
        if not act.elementwise:
            raise ValueError(
                f"{act.name} is only allowed on the output layer (layer {L}); "
                f"layer {l} uses it"
            )
    out = acts[-1]
    if out.name == "softmax" and layer_sizes[-1] == 1:
        raise ValueError(
            "softmax over a single output is always 1; for two classes use a "
            "sigmoid output with binary_cross_entropy, or two softmax outputs"
        )
    if loss.fused_with is not None and out.name != loss.fused_with:
        raise ValueError(
            f"{loss.name} needs a {loss.fused_with} output layer; "
            f"layer {L} uses {out.name!r}"
        )


def template(
    layer_sizes: Sequence[int],
    activations: Sequence[Activation],
    loss: Loss,
    dtype: Any,
    batch_size: int,
    dropout: Sequence[float] = (),
) -> str:
    """The seeds' dimension-tracking template: every forward and backward shape
    for a batch of m samples, and the parameter count. Computed from the sizes
    alone, so a network too large to build can still be described. A hidden
    layer with ``dropout`` shows its mask M (training only)."""
    m = positive_int("batch_size", batch_size)
    n, L = tuple(layer_sizes), len(layer_sizes) - 1
    rates = [*dropout, *[0.0] * L][:L]  # per hidden layer; the output never drops
    names = [a.name for a in activations]
    forward = _forward_rows(n, names, rates, m)
    backward = _backward_rows(n, names, rates, loss, m)
    w = max(len(f) for f, _, _ in forward + backward) + 2
    s = max(len(s) for _, s, _ in forward + backward) + 2

    def lines(rows: list[tuple[str, str, str]]) -> list[str]:
        return [f"  {f:<{w}}{sh:<{s}}{note}".rstrip() for f, sh, note in rows]

    per_layer = [n[l - 1] * n[l] + n[l] for l in range(1, L + 1)]
    head = (
        f"Network {' -> '.join(map(str, n))}  loss={loss.name}  "
        f"dtype={as_dtype(dtype)}  batch m={m}"
    )
    params = "  ".join(f"layer {l}: {p:,}" for l, p in enumerate(per_layer, 1))
    return "\n".join(
        [head, "", "forward pass", *lines(forward), "", "backward pass"]
        + [*lines(backward), "", f"parameters: {params}  total: {sum(per_layer):,}"]
    )


def _forward_rows(
    n: tuple[int, ...], acts: list[str], rates: list[float], m: int
) -> list[tuple[str, str, str]]:
    """(formula, shape, note) of every forward line of the template."""
    L = len(n) - 1
    rows = [("H0 = X", str((m, n[0])), "")]
    for l in range(1, L + 1):
        shapes = f"W{l}: {(n[l - 1], n[l])}  b{l}: {(n[l],)}"
        rows.append((f"Z{l} = H{l - 1} @ W{l} + b{l}", str((m, n[l])), shapes))
        if l < L and rates[l - 1] > 0:
            mask = f"dropout {rates[l - 1]:g}"
            rows.append((f"H{l} = {acts[l - 1]}(Z{l}) * M{l}", str((m, n[l])), mask))
        else:
            rows.append((f"H{l} = {acts[l - 1]}(Z{l})", str((m, n[l])), ""))
    rows.append((f"Y_hat = H{L}", str((m, n[L])), ""))
    return rows


def _backward_rows(
    n: tuple[int, ...], acts: list[str], rates: list[float], loss: Loss, m: int
) -> list[tuple[str, str, str]]:
    """(formula, shape, note) of every backward line, from layer L down."""
    L = len(n) - 1
    rows: list[tuple[str, str, str]] = []
    for l in range(L, 0, -1):
        act, shape = acts[l - 1], str((m, n[l]))
        if l == L and loss.fused_with is not None:
            rows.append((f"dZ{l} = Y_hat - Y", shape, f"{act} + {loss.name}, fused"))
        else:
            if l == L:
                rows.append((f"dH{l} = dL/dY_hat", shape, loss.name))
            rows.append((f"dZ{l} = dH{l} * {act}'(Z{l})", shape, ""))
        rows.append((f"dW{l} = H{l - 1}.T @ dZ{l} / m", str((n[l - 1], n[l])), ""))
        rows.append((f"db{l} = sum(dZ{l}, axis=0) / m", str((n[l],)), ""))
        if l > 1:
            dH = f"dZ{l} @ W{l}.T"
            if rates[l - 2] > 0:  # H(l-1) was masked: so is its delta
                dH = f"({dH}) * M{l - 1}"
            rows.append((f"dH{l - 1} = {dH}", str((m, n[l - 1])), ""))
    return rows


def check_dropout(dropout: Any, n_hidden: int) -> tuple[float, ...]:
    """Dropout rates, one per hidden layer, each in [0, 1)."""
    if dropout is None:
        return (0.0,) * n_hidden
    rates = [dropout] * n_hidden if isinstance(dropout, (int, float)) else list(dropout)
    if len(rates) != n_hidden:
        raise ValueError(
            f"dropout needs one rate or one per hidden layer ({n_hidden}), got "
            f"{len(rates)}"
        )
    for l, p in enumerate(rates, start=1):
        if not is_number(p, 0, 1, hi_open=True):
            raise ValueError(
                f"dropout of hidden layer {l} must be in [0, 1), got {p!r}"
            )
    return tuple(float(p) for p in rates)
