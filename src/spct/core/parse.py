"""Read a generated judgment; write one in the same format (the teacher and the tests use it).

Model output is untrusted text: `parse_judgment` never raises on it. The scores come from the
last *closed* `\\boxed{...}` (docs/method.md §1); an unclosed box after it means the generation was cut
off. A score block that is not exactly n integers in range is a failure with a reason, never a
guess; `lenient=True` is the released card's extractor instead (clip to the range, accept a last
`[...]` list when there is no box).

Failure reasons are `code: detail`; the codes are FAILURE_CODES and are what judgments count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spct.core.items import Principle

# no_principles: principle mode "query" could read no principle from the query's own generation,
# so the item's samples were not drawn (grm.py)
FAILURE_CODES = ("no_box", "truncated", "empty", "not_integer", "wrong_count", "out_of_range", "no_principles")

BOX_OPEN = "\\boxed{"
_HEADER = r"[#*\s]*{name}[*\s]*:[*]*"
_CRITERIA = re.compile(_HEADER.format(name="Specific Criteria"), re.IGNORECASE)
_ANALYSIS = re.compile(_HEADER.format(name="Analysis"), re.IGNORECASE)
_ANALYSIS_OR_STOP = re.compile(r"[#*\s]*Analysis[*\s]*(?::|$)", re.IGNORECASE)  # a stop string ends it bare
_TRAILING_SCORES = re.compile(r"[#*\s]*(?:Scores?|Output)[*\s]*:[*\s]*$", re.IGNORECASE)
_WEIGHT = re.compile(r"\s*\(\s*Weight\s*:\s*(\d+(?:\.\d+)?)\s*%\s*\)", re.IGNORECASE)
# A criteria section is split into items at line breaks, semicolons and inline "2. " numbering.
_ITEM_SPLIT = re.compile(r"\n+|;\s*|\s+(?=\d+\.\s)")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_INT = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_BRACKET_LIST = re.compile(r"\[([^\[\]]*)\]")


@dataclass
class Parsed:
    """What one generation says, in the order the responses were shown."""

    principles: list[Principle] = field(default_factory=list)
    critique: str = ""
    scores: list[int] | None = None
    failure: str | None = None


def _closed_boxes(text: str) -> tuple[list[tuple[int, str]], int | None]:
    """(start, content) of every closed `\\boxed{...}` (nested braces allowed), and the start of
    a box left unclosed at the end, if any."""
    boxes: list[tuple[int, str]] = []
    pos = text.find(BOX_OPEN)
    while pos != -1:
        depth, i = 1, pos + len(BOX_OPEN)
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            return boxes, pos
        boxes.append((pos, text[pos + len(BOX_OPEN) : i - 1]))
        pos = text.find(BOX_OPEN, i)
    return boxes, None


def _read_scores(content: str, n: int, lo: int, hi: int, lenient: bool) -> tuple[list[int] | None, str | None]:
    parts = [p.strip() for p in content.split(",")]
    if not any(parts):
        return None, "empty: the score block holds nothing"
    values: list[int] = []
    for part in parts:
        if _INT.fullmatch(part):
            values.append(int(part))
        elif lenient and _NUMBER.fullmatch(part):
            values.append(round(float(part)))
        else:
            return None, f"not_integer: {part[:40]!r} in the score block"
    if len(values) != n:
        return None, f"wrong_count: expected {n} scores, got {len(values)}"
    bad = [v for v in values if not lo <= v <= hi]
    if bad and not lenient:
        return None, f"out_of_range: {bad[0]} is not in {lo}..{hi}"
    return [min(hi, max(lo, v)) for v in values], None


def _principles(section: str) -> list[Principle]:
    out = []
    for raw in _ITEM_SPLIT.split(section):
        line = _BULLET.sub("", raw).strip().rstrip(".")
        if not line:
            continue
        weight = _WEIGHT.search(line)
        text = _WEIGHT.sub("", line, count=1).strip().rstrip(":").strip() if weight else line
        out.append(Principle(text=text, weight=float(weight.group(1)) if weight else None))
    return out


def parse_judgment(
    text: str,
    n: int,
    *,
    score_range: tuple[int, int] = (1, 10),
    finish_reason: str | None = None,
    lenient: bool = False,
) -> Parsed:
    """Principles, critique and n scores (shown order) from one generation; never raises."""
    boxes, unclosed = _closed_boxes(text)
    last = boxes[-1] if boxes else None
    end = last[0] if last else (unclosed if unclosed is not None else len(text))
    parsed = Parsed()

    body = _TRAILING_SCORES.sub("", text[:end])
    criteria = _CRITERIA.search(body)
    analysis = _ANALYSIS.search(body, criteria.end() if criteria else 0)
    if criteria:
        parsed.principles = _principles(body[criteria.end() : analysis.start() if analysis else len(body)])
    if analysis:
        parsed.critique = body[analysis.end() :].strip()

    lo, hi = score_range
    if unclosed is not None:  # an unclosed box swallows the rest, so it follows every closed one
        parsed.failure = "truncated: a \\boxed{ is never closed"
    elif last is not None:
        parsed.scores, parsed.failure = _read_scores(last[1], n, lo, hi, lenient)
    elif lenient and (lists := _BRACKET_LIST.findall(text)):
        parsed.scores, parsed.failure = _read_scores(lists[-1], n, lo, hi, lenient)
    elif finish_reason == "length":
        parsed.failure = "truncated: generation hit the token limit before the scores"
    else:
        parsed.failure = "no_box: no \\boxed{...} score block"
    return parsed


def parse_principles(text: str) -> list[Principle]:
    """The principles of a text that opens with a criteria section (what principle mode "query"
    generates from the query alone), up to an "Analysis" header or a score block if the model
    went on; [] when there is no criteria section. Never raises."""
    criteria = _CRITERIA.search(text)
    if criteria is None:
        return []
    rest = text[criteria.end() :]
    box = rest.find(BOX_OPEN)
    rest = rest[: box if box != -1 else len(rest)]
    analysis = _ANALYSIS_OR_STOP.search(rest)
    return _principles(_TRAILING_SCORES.sub("", rest[: analysis.start() if analysis else len(rest)]))


def format_principles(principles: list[Principle]) -> str:
    """The criteria section of the paper's output format, numbered, with weights where known."""
    lines = ["Specific Criteria:"]
    for i, p in enumerate(principles, 1):
        weight = f" (Weight: {p.weight:g}%)" if p.weight is not None else ""
        lines.append(f"{i}. {p.text}{weight}")
    return "\n".join(lines)


def format_judgment(principles: list[Principle], critique: str, scores: list[int]) -> str:
    """The paper's output format (docs/method.md §1): criteria with weights, analysis, boxed scores."""
    box = f"\\boxed{{{', '.join(map(str, scores))}}}"
    return "\n".join([format_principles(principles), "", "Analysis:", critique.strip(), "", f"Scores: {box}"])
