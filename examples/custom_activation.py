"""A custom activation, as the seeds promise: "just provide σ and σ′".

nlayer checks σ′ against finite differences of σ when the network is built, so
a wrong derivative is caught before it silently trains badly.

    python examples/custom_activation.py
"""

import numpy as np

import nlayer


class Swish:
    """σ(z) = z·s(βz) with s the logistic sigmoid."""

    name = "swish"

    def __init__(self, beta=1.5):
        self.beta = beta

    def forward(self, z):
        return z / (1 + np.exp(-self.beta * z))

    def derivative(self, z, h):
        s = 1 / (1 + np.exp(-self.beta * z))
        return s + self.beta * z * s * (1 - s)


class WrongSwish(Swish):
    def derivative(self, z, h):
        return 1 / (1 + np.exp(-self.beta * z))  # forgot the second term


print("max |σ' - finite differences|:", nlayer.check_activation(Swish()))
try:
    nlayer.Network([2, 8, 1], [WrongSwish(), "linear"])
except ValueError as error:
    print("caught:", error)

rng = np.random.default_rng(0)
X = rng.standard_normal((200, 2))
Y = np.sin(X[:, :1]) + X[:, 1:] ** 2
net = nlayer.Network([2, 16, 16, 1], [Swish(), Swish(), "linear"], seed=0)
print("gradient check:", nlayer.gradcheck(net, X[:20], Y[:20]))
history = net.fit(X, Y, epochs=300, optimizer="adam", lr=0.01, batch_size=32)
print(f"loss {history.loss[0]:.4f} -> {history.loss[-1]:.4f}")
