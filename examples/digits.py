"""Handwritten digits (scikit-learn's bundled 8×8 images, no download) with a
64-128-64-10 ReLU/softmax network and cross-entropy, trained with Adam.

    pip install scikit-learn && python examples/digits.py
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import nlayer

digits = load_digits()
X = digits.data / 16.0  # pixels 0..16 -> [0, 1]
X_train, X_test, y_train, y_test = train_test_split(
    X, digits.target, test_size=0.25, stratify=digits.target, random_state=0
)
Y_train = np.eye(10)[y_train]  # one-hot rows: the cross-entropy targets

net = nlayer.Network(
    [64, 128, 64, 10], ["relu", "relu", "softmax"], loss="cross_entropy", seed=0
)
history = net.fit(
    X_train,
    Y_train,
    epochs=40,
    optimizer="adam",
    lr=1e-3,
    batch_size=32,
    validation_fraction=0.1,
    verbose=5,
)
accuracy = np.mean(net.forward(X_test).argmax(axis=1) == y_test)
print(f"held-out accuracy: {accuracy:.2%} on {len(y_test)} images")
