"""Seed 000: a three-layer network (two tanh hidden layers, linear output, MSE)
learning y = x1² + x2² by full-batch gradient descent.

    python examples/seed_000_three_layer.py
"""

import numpy as np

import nlayer

rng = np.random.default_rng(42)
X = rng.standard_normal((100, 2))  # 100 samples, 2 features
Y = np.sum(X**2, axis=1, keepdims=True)  # target: sum of squares

net = nlayer.Network([2, 10, 5, 1], ["tanh", "tanh", "linear"], loss="mse", seed=0)
print(net.summary(batch_size=len(X)))
print()

history = net.fit(X, Y, epochs=1000, optimizer="sgd", lr=0.01, verbose=100)
print(f"\nFinal loss: {net.loss(X, Y):.4f}  (first epoch: {history.loss[0]:.4f})")
