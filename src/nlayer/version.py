"""nlayer's version: one constant that every module may import."""

__version__ = "0.1.0"
