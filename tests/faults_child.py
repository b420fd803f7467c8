"""Run by test_faults.py in a subprocess: train with checkpoints, save the final
parameters; optionally die (SIGKILL) halfway through the n-th checkpoint write.

    python faults_child.py OUT.npy CHECKPOINT_DIR|- DTYPE RESUME KILL_AT_WRITE
"""

import os
import signal
import sys

import numpy as np

import nlayer
from nlayer import safefile

out, ck_dir, dtype, resume, kill_at_write = sys.argv[1:6]
kill_at_write = int(kill_at_write)

if kill_at_write:
    real_write, writes = safefile.atomic_write, [0]

    def dying_write(path, data):
        writes[0] += 1
        if writes[0] == kill_at_write:  # half a temporary file, then kill -9
            tmp = path.with_name(f".{path.name}.{os.getpid()}.dead.tmp")
            tmp.write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(path, data)

    safefile.atomic_write = dying_write

rng = np.random.default_rng(7)
X = rng.standard_normal((3000, 20)).astype(dtype)
Y = np.eye(3, dtype=dtype)[np.argmax(X[:, :3] + 0.3 * X[:, 3:6], axis=1)]
net = nlayer.Network(
    [20, 128, 128, 3],
    ["relu", "tanh", "softmax"],
    loss="cross_entropy",
    seed=3,
    dtype=dtype,
)
options = {} if ck_dir == "-" else {"checkpoint_dir": ck_dir, "resume": resume == "1"}
net.fit(
    X,
    Y,
    epochs=30,
    optimizer="adam",
    lr=3e-3,
    batch_size=16,
    validation_fraction=0.2,
    early_stopping=True,
    patience=100,
    **options,
)
np.save(out, net.params)
