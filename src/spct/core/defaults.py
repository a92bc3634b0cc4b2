"""The defaults of judging, in one visible place (nanoGPT's way): every entry point reads them."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # an OpenAI-compatible server on this machine (vLLM's port)


@dataclass(frozen=True)
class ScoringDefaults:
    """spct's scoring defaults, in one place: `GRM`, `spct score`, `spct eval`, `spct serve` and
    the scaling curves all read them from `SCORING`."""

    max_new_tokens: int = 512  # longest judgment
    principle_tokens: int = 160  # longest criteria section written from the query alone (mode "query")
    sampled_temperature: float = 0.5  # the paper's for k > 1 (k = 1 is greedy)
    top_p: float = 1.0
    seed: int = 0  # response orders and sampling
    batch_size: int = 8  # items per backend call
    # the fastest measured in docs/performance.md:
    per_order: int = 4  # draws sharing one response order, sampled from one prefill of its prompt
    # `spct eval` reads voting@1, 2, 4 from subsets of its k_max draws, whose response orders should
    # mix as the paper's do: 2 per order gives a pair of draws one order in 1 of 7 (4 per order: 3
    # of 7), as every evaluation in docs/ since 2026-12-02 was drawn
    eval_per_order: int = 2
    sequences: int = 32  # hf backend: sequences decoded together in one forward pass (prompts x samples)
    gpu_sequences: int = 256  # the same on a GPU: what trained and judged the default on an H200 (docs/real-grm.md)
    round_size: int = 4  # adaptive voting: draws per round
    # adaptive voting: stop when the vote holds with this probability. 0.8 met "within 0.5 points of
    # voting@32 with at most 40% of its samples" on the miniature (96 items: 28%) and, in the point
    # estimate, on the real default (209 RewardBench items: +1.0 [-5.7, +7.2] points with 33%, voting@32's
    # verdict kept on 77%; an earlier 42-item draw: 7.1 below); 0.95 keeps more of voting@32's verdicts
    # at more samples (docs/performance.md, docs/scaling.md)
    confidence: float = 0.8


SCORING = ScoringDefaults()
