"""The seeds' NumPy reference classes, transcribed as test oracles.

``ThreeLayerNetwork`` is seed 000's class and ``NLayerNetwork`` seed 001's, with
their maths unchanged. Two deliberate changes: weights come from the test (the
originals draw them from NumPy's global RNG), and ``compute_loss`` is the
derivation's L = (1/2m)·‖Ŷ − Y‖² (the originals also divide by the number of
outputs, which disagrees with their own gradient when there is more than one).
"""

import numpy as np


def mse(Y_true, Y_pred):
    return 0.5 * np.sum((Y_pred - Y_true) ** 2) / len(Y_true)


class ThreeLayerNetwork:
    def __init__(self, W1, b1, W2, b2, W3, b3, lr=0.01):
        self.lr = lr
        self.W1, self.b1 = W1.copy(), b1.copy()
        self.W2, self.b2 = W2.copy(), b2.copy()
        self.W3, self.b3 = W3.copy(), b3.copy()

    def forward(self, X):
        self.Z1 = X @ self.W1 + self.b1
        self.H1 = np.tanh(self.Z1)
        self.Z2 = self.H1 @ self.W2 + self.b2
        self.H2 = np.tanh(self.Z2)
        self.Z3 = self.H2 @ self.W3 + self.b3
        self.Y_pred = self.Z3
        return self.Y_pred

    def gradients(self, X, Y_true):
        """The seed's backward pass, without the update."""
        m = X.shape[0]
        dL_dZ3 = self.Y_pred - Y_true
        dL_dW3 = (1 / m) * (self.H2.T @ dL_dZ3)
        dL_db3 = (1 / m) * np.sum(dL_dZ3, axis=0)
        dL_dH2 = dL_dZ3 @ self.W3.T
        dL_dZ2 = dL_dH2 * (1 - self.H2**2)
        dL_dW2 = (1 / m) * (self.H1.T @ dL_dZ2)
        dL_db2 = (1 / m) * np.sum(dL_dZ2, axis=0)
        dL_dH1 = dL_dZ2 @ self.W2.T
        dL_dZ1 = dL_dH1 * (1 - self.H1**2)
        dL_dW1 = (1 / m) * (X.T @ dL_dZ1)
        dL_db1 = (1 / m) * np.sum(dL_dZ1, axis=0)
        return [dL_dW1, dL_dW2, dL_dW3], [dL_db1, dL_db2, dL_db3]

    def backward(self, X, Y_true):
        (dW1, dW2, dW3), (db1, db2, db3) = self.gradients(X, Y_true)
        self.W3 -= self.lr * dW3
        self.b3 -= self.lr * db3
        self.W2 -= self.lr * dW2
        self.b2 -= self.lr * db2
        self.W1 -= self.lr * dW1
        self.b1 -= self.lr * db1

    def train(self, X, Y, epochs=1000):
        losses = []
        for _ in range(epochs):
            Y_pred = self.forward(X)
            losses.append(mse(Y, Y_pred))
            self.backward(X, Y)
        return losses


class Sigmoid:
    def forward(self, z):
        return 1 / (1 + np.exp(-z))

    def derivative(self, z, h=None):
        return h * (1 - h)


class Tanh:
    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, h=None):
        return 1 - h**2


class ReLU:
    def forward(self, z):
        return np.maximum(0, z)

    def derivative(self, z, h=None):
        return (z > 0).astype(float)


class Linear:
    def forward(self, z):
        return z

    def derivative(self, z, h=None):
        return np.ones_like(z)


class NLayerNetwork:
    def __init__(self, weights, biases, activations, lr=0.01):
        self.num_layers = len(weights)
        self.activations = activations
        self.lr = lr
        self.weights = [W.copy() for W in weights]
        self.biases = [b.copy() for b in biases]

    def forward(self, X):
        self.Z = []
        self.H = [X]
        for l in range(self.num_layers):
            Z = self.H[l] @ self.weights[l] + self.biases[l]
            self.Z.append(Z)
            self.H.append(self.activations[l].forward(Z))
        return self.H[-1]

    def backward(self, X, Y_true, Y_pred):
        m = X.shape[0]
        dL_dW = [None] * self.num_layers
        dL_db = [None] * self.num_layers
        dL_dH = Y_pred - Y_true
        for l in range(self.num_layers - 1, -1, -1):
            activation_derivative = self.activations[l].derivative(
                self.Z[l], self.H[l + 1]
            )
            dL_dZ = dL_dH * activation_derivative
            dL_dW[l] = (1 / m) * (self.H[l].T @ dL_dZ)
            dL_db[l] = (1 / m) * np.sum(dL_dZ, axis=0)
            if l > 0:
                dL_dH = dL_dZ @ self.weights[l].T
        for l in range(self.num_layers):
            self.weights[l] -= self.lr * dL_dW[l]
            self.biases[l] -= self.lr * dL_db[l]

    def train(self, X, Y, epochs=1000):
        losses = []
        for _ in range(epochs):
            Y_pred = self.forward(X)
            losses.append(mse(Y, Y_pred))
            self.backward(X, Y, Y_pred)
        return losses


def squares_data(m=100, seed=42):
    """The seeds' data: x ~ N(0, 1)², y = x₁² + x₂²."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 2))
    return X, np.sum(X**2, axis=1, keepdims=True)
