"""spct: generalist generative reward modeling with Self-Principled Critique Tuning (SPCT)."""

__version__ = "0.1.0"
