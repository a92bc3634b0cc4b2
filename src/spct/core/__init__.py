"""Every rule of the method, with no model and no network: items, prompts, parsing, voting."""

from spct.core.items import Item, Judgment, Message, Principle, Sample
from spct.core.parse import FAILURE_CODES, Parsed, format_judgment, parse_judgment
from spct.core.prompts import PromptTemplate
from spct.core.vote import (
    is_correct,
    judgment_correct,
    make_sample,
    normalised_rewards,
    sample_orders,
    unshuffle,
    vote,
)

__all__ = [
    "FAILURE_CODES",
    "Item",
    "Judgment",
    "Message",
    "Parsed",
    "Principle",
    "PromptTemplate",
    "Sample",
    "format_judgment",
    "is_correct",
    "judgment_correct",
    "make_sample",
    "normalised_rewards",
    "parse_judgment",
    "sample_orders",
    "unshuffle",
    "vote",
]
