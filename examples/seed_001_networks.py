"""Seed 001's two examples on y = x1² + x2²: a 4-layer ReLU/Tanh/ReLU/Linear
network and a 2-layer Sigmoid/Linear network, trained by full-batch gradient
descent, with a finite-difference check of their gradients.

    python examples/seed_001_networks.py
"""

import numpy as np

import nlayer

rng = np.random.default_rng(42)
X = rng.standard_normal((100, 2))
Y = np.sum(X**2, axis=1, keepdims=True)

print("Training 4-layer network with mixed activations...")
net = nlayer.Network([2, 10, 8, 5, 1], ["relu", "tanh", "relu", "linear"], seed=0)
print(net.summary(batch_size=len(X)))
print(f"gradient check (max relative error): {nlayer.gradcheck(net, X, Y):.1e}\n")
history = net.fit(X, Y, epochs=1000, optimizer="sgd", lr=0.01, verbose=100)
print(f"\nFinal Loss: {net.loss(X, Y):.4f}  (first epoch: {history.loss[0]:.4f})")

print("\n" + "=" * 60)
print("Training 2-layer network with Sigmoid...")
net2 = nlayer.Network([2, 15, 1], ["sigmoid", "linear"], seed=0)
history2 = net2.fit(X, Y, epochs=1000, optimizer="sgd", lr=0.1, verbose=100)
print(f"\nFinal Loss: {net2.loss(X, Y):.4f}  (first epoch: {history2.loss[0]:.4f})")
