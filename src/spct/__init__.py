"""spct: generalist generative reward modeling with Self-Principled Critique Tuning (SPCT)."""

__version__ = "0.1.0"

from spct.core.items import Item, Judgment, Sample
from spct.grm import GRM

__all__ = ["GRM", "Item", "Judgment", "Sample"]
