"""Downstream reasoning checks: given N candidate solutions to a GSM8K, MATH-500 or HumanEval
problem, does the GRM's best-of-N pick a right one more often than a random pick or the majority
answer (self-consistency)?

    spct reasoning gsm8k math500 humaneval --n 4 --limit 50 --out runs/reasoning
    spct reasoning gsm8k --candidates samples.jsonl     # your policy's samples: {"id", "candidates"}

Without a candidates file the candidates are synthesised from the reference solution, since no
policy that solves these runs offline here: each is right with probability `--p-right`, else a
plausible wrong variant drawn from a small set per problem (so wrong answers can coincide, as a
policy's do, and majority voting can be fooled):
- GSM8K: stopping at an intermediate step and answering its result, or a slip in the last step;
- MATH-500: the boxed answer replaced (an integer off by one, doubled or negated; otherwise another
  problem's answer from the same subject);
- HumanEval: one mutation of the canonical solution (a comparison, an arithmetic operator, a
  constant, a boolean, a call left out), kept only when the problem's tests fail on it.
A candidate is right when its final answer matches the reference (GSM8K: the number after the
last "The answer is" or "####"; MATH: the last \\boxed{}, normalised) or, for code, when the tests
pass (run in a subprocess with a timeout). Results per problem go to `<out>/<benchmark>.jsonl` as
they finish (a rerun resumes); `results.md`/`.json`/`.png` hold accuracy with bootstrap intervals
for the GRM, random, majority and the oracle (some candidate is right: the ceiling).
"""

from __future__ import annotations

import ast
import gzip
import json
import random
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from spct.downstream.best_of_n import best_of_n
from spct.eval.benchmarks import field, training_split
from spct.eval.metrics import bootstrap
from spct.grm import GRM
from spct.io import JsonlWriter, done_ids

SELECTIONS = ("grm", "random", "majority", "oracle")
TRAINED_ON = ("gsm8k", "math500")  # `spct data build` draws train items from their problems


@dataclass
class Problem:
    id: str
    query: str
    reference: str  # a right solution
    answer: str  # its final answer (GSM8K, MATH) or, for code, the test program
    kind: str  # "number", "math" or "code"
    meta: dict


# --- loading -------------------------------------------------------------------------------------

_CALC = re.compile(r"<<[^>]*>>")


def load_gsm8k(root: Path) -> list[Problem]:
    path = root / "gsm8k" / "test.jsonl"
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        r, where = json.loads(line), f"{path}:{i + 1}"
        steps, _, answer = _CALC.sub("", field(r, "answer", where)).rpartition("####")
        out.append(
            Problem(
                f"gsm8k-{i}",
                field(r, "question", where),
                f"{steps.strip()}\nThe answer is {answer.strip()}.",
                _number(answer),
                "number",
                {},
            )
        )
    return out


def load_math500(root: Path) -> list[Problem]:
    path = root / "math500" / "test.jsonl"
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        r, where = json.loads(line), f"{path}:{i + 1}"
        out.append(
            Problem(
                f"math500-{i}",
                field(r, "problem", where),
                field(r, "solution", where),
                field(r, "answer", where),
                "math",
                {"subject": field(r, "subject", where)},
            )
        )
    return out


def load_humaneval(root: Path) -> list[Problem]:
    path = root / "humaneval" / "HumanEval.jsonl.gz"
    out = []
    for i, line in enumerate(gzip.decompress(path.read_bytes()).decode().splitlines()):
        r, where = json.loads(line), f"{path}:{i + 1}"
        prompt = field(r, "prompt", where)
        test = f"{field(r, 'test', where)}\ncheck({field(r, 'entry_point', where)})\n"
        out.append(
            Problem(
                f"humaneval-{i}",
                f"Complete this Python function.\n\n```python\n{prompt}```",
                prompt + field(r, "canonical_solution", where),
                test,
                "code",
                {},
            )
        )
    return out


BENCHMARKS: dict[str, Callable[[Path], list[Problem]]] = {
    "gsm8k": load_gsm8k,
    "math500": load_math500,
    "humaneval": load_humaneval,
}


# --- checking ------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _number(text: str) -> str:
    found = _NUMBER.findall(text)
    if not found:
        return ""
    value = found[-1].replace(",", "")
    return value.rstrip("0").rstrip(".") if "." in value else value


def final_number(candidate: str) -> str:
    """The number after the last "The answer is" (or "####"); else the text's last number."""
    tail = re.split(r"The answer is|####", candidate)[-1]
    return _number(tail) or _number(candidate)


def last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed{")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth < 0:
            return text[i:j]
    return None


def normalise_math(answer: str | None) -> str:
    if answer is None:
        return ""
    for old, new in (
        ("\\left", ""),
        ("\\right", ""),
        ("\\!", ""),
        ("dfrac", "frac"),
        ("tfrac", "frac"),
        ("^\\circ", ""),
        ("^{\\circ}", ""),
        ("\\$", ""),
        ("$", ""),
        (" ", ""),
        ("\\,", ""),
    ):
        answer = answer.replace(old, new)
    return answer.rstrip(".")


def passes(program: str, timeout: float = 10.0) -> bool:
    """True if `program` (solution + tests) exits cleanly in a fresh interpreter within `timeout`."""
    try:
        return subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def answer_of(problem: Problem, candidate: str) -> str:
    """What majority voting counts: the final answer, or for code the program's normalised AST."""
    if problem.kind == "number":
        return final_number(candidate)
    if problem.kind == "math":
        return normalise_math(last_boxed(candidate))
    try:
        return ast.dump(ast.parse(candidate))
    except SyntaxError:
        return candidate


def is_right(problem: Problem, candidate: str) -> bool:
    if problem.kind == "code":
        return passes(candidate + "\n" + problem.answer)
    reference = problem.answer if problem.kind == "number" else normalise_math(problem.answer)
    return answer_of(problem, candidate) == reference != ""


# --- synthetic candidates ------------------------------------------------------------------------


def _off(value: str, rng: random.Random) -> str | None:
    """An integer off by a typical slip, or None for a non-integer."""
    try:
        n = int(value)
    except ValueError:
        return None
    return str(rng.choice([n + 1, n - 1, 2 * n, n + 10, -n if n else 1]))


def wrong_variants(problem: Problem, pool: list[Problem], rng: random.Random, most: int = 3) -> list[str]:
    """Up to `most` distinct wrong candidates for `problem` (see the module docstring)."""
    variants: list[str] = []
    if problem.kind == "number":
        steps = problem.reference.splitlines()[:-1]
        for i in range(len(steps) - 1):  # stop early: answer an intermediate step's result
            early = _number(steps[i])
            if early and early != problem.answer:
                variants.append("\n".join(steps[: i + 1]) + f"\nThe answer is {early}.")
        slip = _off(problem.answer, rng)
        if slip and slip != problem.answer and steps:  # the last step's result, slipped
            spans = [m.span() for m in _NUMBER.finditer(steps[-1]) if _number(m.group()) == problem.answer]
            last = steps[-1][: spans[-1][0]] + slip + steps[-1][spans[-1][1] :] if spans else steps[-1]
            variants.append("\n".join([*steps[:-1], last]) + f"\nThe answer is {slip}.")
    elif problem.kind == "math":
        others = [
            p.answer
            for p in pool
            if p.meta["subject"] == problem.meta["subject"]
            and normalise_math(p.answer) != normalise_math(problem.answer)
        ]
        start, boxed = problem.reference.rfind("\\boxed{"), last_boxed(problem.reference)
        wrongs = dict.fromkeys([_off(problem.answer, rng), *rng.sample(others, min(2, len(others)))])  # ordered: a
        for wrong in (w for w in wrongs if w is not None and boxed is not None):  # set's order varies by process
            variants.append(
                problem.reference[:start]
                + f"\\boxed{{{wrong}}}"
                + problem.reference[start + len("\\boxed{") + len(boxed) + 1 :]
            )
    else:
        for mutant in mutants(problem.reference, rng):
            if not passes(mutant + "\n" + problem.answer, timeout=5.0):
                variants.append(mutant)
            if len(variants) == most:
                break
    variants = list(dict.fromkeys(v for v in variants if problem.kind == "code" or not is_right(problem, v)))
    return rng.sample(variants, min(most, len(variants)))


_SWAPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
}


def _mutated(node: ast.AST) -> ast.AST | None:
    """`node` changed by one typical slip, or None where none applies."""
    if isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAPS:
        node.ops[0] = _SWAPS[type(node.ops[0])]()
    elif isinstance(node, ast.BinOp) and type(node.op) in _SWAPS:
        node.op = _SWAPS[type(node.op)]()
    elif isinstance(node, ast.Constant) and (isinstance(node.value, bool) or node.value in (0, 1)):
        node.value = (not node.value) if isinstance(node.value, bool) else 1 - node.value
    elif isinstance(node, ast.Call) and node.args:  # a step left out: f(x) -> x
        return node.args[0]
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):  # x.m() -> x
        return node.func.value
    else:
        return None
    return node


class _Replace(ast.NodeTransformer):
    def __init__(self, old: ast.AST, new: ast.AST) -> None:
        self.old, self.new = old, new

    def visit(self, node: ast.AST) -> ast.AST:
        return self.new if node is self.old else self.generic_visit(node)


def mutants(code: str, rng: random.Random, most: int = 8) -> list[str]:
    """Programs that differ from `code` by one slip (an operator, a constant, a boolean, a call
    left out), in random order."""
    out = []
    size = len(list(ast.walk(ast.parse(code))))
    for i in rng.sample(range(size), size):
        tree = ast.parse(code)
        node = list(ast.walk(tree))[i]
        new = _mutated(node)
        if new is not None:
            out.append(ast.unparse(_Replace(node, new).visit(tree)))
        if len(out) == most:
            break
    return out


def synthesise(problem: Problem, pool: list[Problem], n: int, p_right: float, seed: int) -> list[str]:
    """N candidates: the reference (a right one) with probability `p_right`, else a wrong variant.
    A problem with no wrong variant gets right candidates only (and so does not tell selections
    apart)."""
    rng = random.Random(f"{seed}-{problem.id}")
    wrong = wrong_variants(problem, pool, rng)
    right = ast.unparse(ast.parse(problem.reference)) if problem.kind == "code" else problem.reference
    return [right if not wrong or rng.random() < p_right else rng.choice(wrong) for _ in range(n)]


# --- selecting -----------------------------------------------------------------------------------


def majority(problem: Problem, candidates: list[str], rng: random.Random) -> int:
    """The candidate whose answer most candidates share (ties: a random one of the tied answers)."""
    answers = [answer_of(problem, c) for c in candidates]
    counts = Counter(a for a in answers if a)
    if not counts:
        return rng.randrange(len(candidates))
    top = max(counts.values())
    pick = rng.choice(sorted(a for a, c in counts.items() if c == top))
    return answers.index(pick)


def run(
    names: list[str],
    grm: GRM,
    data: Path,
    out: Path,
    *,
    n: int = 4,
    p_right: float = 0.4,
    limit: int | None = None,
    samples: int = 1,
    group_size: int = 8,
    candidates: Path | None = None,
    seed: int = 0,
) -> dict:
    """Each benchmark's problems, their candidates and the four selections, written as they finish."""
    unknown = [b for b in names if b not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    given = _read_candidates(candidates) if candidates else {}
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"model": grm.backend.model_id, "n": n, "p_right": None if given else p_right, "benchmarks": {}}
    for name in names:
        problems = BENCHMARKS[name](data)
        if name in TRAINED_ON:  # never a problem a GRM of spct trained on
            problems = [p for p in problems if training_split(p.query) != "train"]
        if given:
            problems = [p for p in problems if p.id in given]
        chosen = random.Random(seed).sample(problems, min(limit, len(problems))) if limit else problems
        path = out / f"{name}.jsonl"
        done = done_ids(path)
        rng = random.Random(seed)
        with JsonlWriter(path, append=True) as writer:
            for problem in tqdm([p for p in chosen if p.id not in done], desc=name):
                cands = given[problem.id] if given else synthesise(problem, problems, n, p_right, seed)
                right = [is_right(problem, c) for c in cands]
                choice = best_of_n(grm, problem.query, cands, samples, group_size)
                picks = {
                    "grm": choice.index,
                    "random": rng.randrange(len(cands)),
                    "majority": majority(problem, cands, rng),
                }
                writer.write(
                    {
                        "id": problem.id,
                        "candidates": cands,
                        "right": right,
                        "picks": picks,
                        "decided": choice.decided,
                        "critique": choice.critique,
                    }
                )
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows = [r for r in rows if r["id"] in {p.id for p in chosen}]
        results["benchmarks"][name] = _score(rows)
        (out / "results.json").write_text(json.dumps(results, indent=1))
    _table(results, out / "results.md")
    _plot(results, out / "results.png")
    return results


def _read_candidates(path: Path) -> dict[str, list[str]]:
    out = {}
    for i, line in enumerate(path.read_text().splitlines()):
        r, where = json.loads(line), f"{path}:{i + 1}"
        cands = field(r, "candidates", where)
        if not isinstance(cands, list) or not cands or not all(isinstance(c, str) for c in cands):
            raise ValueError(f"{where}: field 'candidates' must be a non-empty list of strings")
        out[str(field(r, "id", where))] = cands
    return out


def _score(rows: list[dict]) -> dict:
    values = {s: [float(r["right"][r["picks"][s]]) for r in rows] for s in SELECTIONS[:-1]}
    values["oracle"] = [float(any(r["right"])) for r in rows]
    summary = {}
    for s, v in values.items():
        est = bootstrap(v)
        summary[s] = {"accuracy": est.value, "low": est.low, "high": est.high, "n": est.n}
    summary["undecided"] = sum(not r["decided"] for r in rows)
    summary["right_share"] = sum(sum(r["right"]) for r in rows) / sum(len(r["right"]) for r in rows)
    return summary


def _table(results: dict, path: Path) -> None:
    names = list(results["benchmarks"])
    lines = ["| selection | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for s in SELECTIONS:
        cells = [
            f"{100 * r[s]['accuracy']:.1f} [{100 * r[s]['low']:.1f}, {100 * r[s]['high']:.1f}] (n={r[s]['n']})"
            for r in (results["benchmarks"][b] for b in names)
        ]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append(
        "| right candidates | "
        + " | ".join(f"{100 * results['benchmarks'][b]['right_share']:.1f}%" for b in names)
        + " |"
    )
    lines.append(
        "| GRM undecided (a tie or no parse kept the first) | "
        + " | ".join(
            f"{results['benchmarks'][b]['undecided']} of {results['benchmarks'][b]['grm']['n']}" for b in names
        )
        + " |"
    )
    path.write_text("\n".join(lines) + "\n")


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["benchmarks"])
    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.8 / len(SELECTIONS)
    for i, s in enumerate(SELECTIONS):
        rows = [results["benchmarks"][b][s] for b in names]
        ax.bar(
            [x + i * width for x in range(len(names))],
            [100 * r["accuracy"] for r in rows],
            width,
            label=s,
            yerr=[[100 * (r["accuracy"] - r["low"]) for r in rows], [100 * (r["high"] - r["accuracy"]) for r in rows]],
        )
    ax.set_xticks([x + width * (len(SELECTIONS) - 1) / 2 for x in range(len(names))], names)
    ax.set_ylabel("selected answer right (%)")
    ax.set_title(f"best-of-{results['n']}: {Path(results['model']).name}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
