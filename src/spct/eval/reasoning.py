"""Downstream reasoning checks: given N candidate solutions to a GSM8K, MATH-500 or HumanEval
problem, does the GRM's best-of-N pick a right one more often than a random pick or the majority
answer (self-consistency)?

    spct reasoning gsm8k math500 humaneval --n 4 --limit 50 --out runs/reasoning
    spct reasoning gsm8k --candidates samples.jsonl     # your policy's samples: {"id", "candidates"}
    spct reasoning gsm8k humaneval --policy qwen2.5-coder-0.5b-instruct --limit 50   # sampled here

With `--policy` the candidates are sampled from that causal LM once, batched across problems, and
appended to `<out>/candidates.jsonl` (or `--candidates`) as they finish, so a cut run resumes and
a rerun judges the same candidates; for code the candidate is the program in the reply (its
first python block, with the signature and imports of the problem put back where left out).

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
import json
import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from spct.backends.base import Backend, Sampling
from spct.downstream.best_of_n import best_of_n
from spct.eval.benchmarks import Task, field, gsm8k, humaneval, math500, training_split
from spct.eval.benchmarks.gsm8k import NUMBER, final_number, last_number
from spct.eval.benchmarks.humaneval import passes
from spct.eval.benchmarks.math500 import last_boxed, normalise_math
from spct.eval.metrics import bootstrap
from spct.eval.report import estimate, markdown_table
from spct.grm import GRM
from spct.io import JsonlWriter, done_ids, figure

SELECTIONS = ("grm", "random", "majority", "oracle")
TRAINED_ON = ("gsm8k", "math500")  # `spct data build` draws train items from their problems


TASKS: dict[str, Callable[[Path], list[Task]]] = {
    "gsm8k": gsm8k.load,
    "math500": math500.load,
    "humaneval": humaneval.load,
}


# --- checking ------------------------------------------------------------------------------------


def answer_of(task: Task, candidate: str) -> str:
    """What majority voting counts: the final answer, or for code the program's normalised AST."""
    if task.kind == "number":
        return final_number(candidate)
    if task.kind == "math":
        return normalise_math(last_boxed(candidate))
    try:
        return ast.dump(ast.parse(candidate))
    except SyntaxError:
        return candidate


def is_right(task: Task, candidate: str) -> bool:
    if task.kind == "code":
        return passes(candidate + "\n" + task.answer)
    reference = task.answer if task.kind == "number" else normalise_math(task.answer)
    return answer_of(task, candidate) == reference != ""


# --- synthetic candidates ------------------------------------------------------------------------


def _off(value: str, rng: random.Random) -> str | None:
    """An integer off by a typical slip, or None for a non-integer."""
    try:
        n = int(value)
    except ValueError:
        return None
    return str(rng.choice([n + 1, n - 1, 2 * n, n + 10, -n if n else 1]))


def wrong_variants(task: Task, pool: list[Task], rng: random.Random, most: int = 3) -> list[str]:
    """Up to `most` distinct wrong candidates for `task` (see the module docstring)."""
    variants: list[str] = []
    if task.kind == "number":
        steps = task.reference.splitlines()[:-1]
        for i in range(len(steps) - 1):  # stop early: answer an intermediate step's result
            early = last_number(steps[i])
            if early and early != task.answer:
                variants.append("\n".join(steps[: i + 1]) + f"\nThe answer is {early}.")
        slip = _off(task.answer, rng)
        if slip and slip != task.answer and steps:  # the last step's result, slipped
            spans = [m.span() for m in NUMBER.finditer(steps[-1]) if last_number(m.group()) == task.answer]
            last = steps[-1][: spans[-1][0]] + slip + steps[-1][spans[-1][1] :] if spans else steps[-1]
            variants.append("\n".join([*steps[:-1], last]) + f"\nThe answer is {slip}.")
    elif task.kind == "math":
        others = [
            p.answer
            for p in pool
            if p.meta["subject"] == task.meta["subject"] and normalise_math(p.answer) != normalise_math(task.answer)
        ]
        start, boxed = task.reference.rfind("\\boxed{"), last_boxed(task.reference)
        wrongs = dict.fromkeys([_off(task.answer, rng), *rng.sample(others, min(2, len(others)))])  # ordered: a
        for wrong in (w for w in wrongs if w is not None and boxed is not None):  # set's order varies by process
            variants.append(
                task.reference[:start]
                + f"\\boxed{{{wrong}}}"
                + task.reference[start + len("\\boxed{") + len(boxed) + 1 :]
            )
    else:
        for mutant in mutants(task.reference, rng):
            if not passes(mutant + "\n" + task.answer, timeout=5.0):
                variants.append(mutant)
            if len(variants) == most:
                break
    variants = list(dict.fromkeys(v for v in variants if task.kind == "code" or not is_right(task, v)))
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


# One parse at a time: CPython 3.11 keeps the AST converter's recursion depth per interpreter, not per
# thread, so two threads parsing at once can raise "SystemError: AST constructor recursion depth
# mismatch" (python/cpython#106905 and its kin; it failed CI once). The data build checks MBPP's
# mutants in threads, since the checks wait on subprocesses.
_AST = threading.Lock()


def mutants(code: str, rng: random.Random, most: int = 8) -> list[str]:
    """Programs that differ from `code` by one slip (an operator, a constant, a boolean, a call
    left out), in random order."""
    out = []
    with _AST:
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


def synthesise(task: Task, pool: list[Task], n: int, p_right: float, seed: int) -> list[str]:
    """N candidates: the reference (a right one) with probability `p_right`, else a wrong variant.
    A problem with no wrong variant gets right candidates only (and so does not tell selections
    apart)."""
    rng = random.Random(f"{seed}-{task.id}")
    wrong = wrong_variants(task, pool, rng)
    right = ast.unparse(ast.parse(task.reference)) if task.kind == "code" else task.reference
    return [right if not wrong or rng.random() < p_right else rng.choice(wrong) for _ in range(n)]


# --- a policy's candidates -----------------------------------------------------------------------

ASK = {  # what the policy is told beyond the problem, so that its final answer can be checked
    "number": 'Solve it step by step, and end with "The answer is N." where N is the final number.',
    "math": "Solve it step by step, and put the final answer in \\boxed{}.",
    "code": "Answer with the whole function in one ```python block.",
}


def policy_prompt(task: Task) -> str:
    """What the policy is asked: the problem, then how to state its answer."""
    return f"{task.query}\n\n{ASK[task.kind]}"


CODE_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def as_candidate(task: Task, reply: str) -> str:
    """What the GRM judges and the checks run: the reply, or for code the program in it (its first
    python block, else the whole reply), with the problem's signature put back before a bare body
    and the problem's imports before code that uses them without importing them."""
    if task.kind != "code":
        return reply
    block = CODE_BLOCK.search(reply)
    code = block.group(1) if block else reply
    prompt = task.meta["prompt"]
    if f"def {task.meta['entry_point']}(" not in code:
        code = prompt + code
    imports = [line for line in prompt.splitlines() if line.startswith(("import ", "from ")) and line not in code]
    return "\n".join([*imports, code])


def sample_policy(
    names: list[str],
    policy: Backend,
    data: Path,
    path: Path,
    *,
    n: int,
    limit: int | None,
    seed: int = 0,
    temperature: float = 0.7,
    max_new_tokens: int = 512,
    batch: int = 8,
) -> None:
    """`n` candidates from `policy` for every problem `run` would judge, `batch` problems per call,
    appended to `path` as {id, candidates, finish_reasons, policy} (a rerun samples only the rest)."""
    done = done_ids(path)
    sampling = Sampling(n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    with JsonlWriter(path, append=True) as writer:
        for name in names:
            todo = [t for t in draw(judged(name, data), limit, seed) if t.id not in done]
            with tqdm(total=len(todo), desc=f"{name}: sampling candidates") as bar:
                for start in range(0, len(todo), batch):
                    chunk = todo[start : start + batch]
                    prompts = [[{"role": "user", "content": policy_prompt(t)}] for t in chunk]
                    for task, completions in zip(chunk, policy.generate(prompts, sampling), strict=True):
                        writer.write(
                            {
                                "id": task.id,
                                "candidates": [as_candidate(task, c.text) for c in completions],
                                "finish_reasons": [c.finish_reason for c in completions],
                                "policy": policy.model_id,
                            }
                        )
                    bar.update(len(chunk))


# --- selecting -----------------------------------------------------------------------------------


def majority(task: Task, candidates: list[str], rng: random.Random) -> int:
    """The candidate whose answer most candidates share (ties: a random one of the tied answers)."""
    answers = [answer_of(task, c) for c in candidates]
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
    k: int = 1,
    group_size: int = 8,
    candidates: Path | None = None,
    policy: Backend | None = None,
    seed: int = 0,
) -> dict:
    """Each benchmark's problems, their candidates (synthesised, read from `candidates`, or first
    sampled from `policy` into it) and the four selections, written as they finish."""
    unknown = [b for b in names if b not in TASKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {', '.join(TASKS)}")
    out.mkdir(parents=True, exist_ok=True)
    if policy is not None:
        candidates = candidates or out / "candidates.jsonl"
        sample_policy(names, policy, data, candidates, n=n, limit=limit, seed=seed)
    given = read_candidates(candidates) if candidates else {}
    results: dict = {"model": grm.backend.model_id, "n": n, "p_right": None if given else p_right, "benchmarks": {}}
    for name in names:
        tasks = judged(name, data)
        chosen = draw([p for p in tasks if p.id in given] if given else tasks, limit, seed)
        path = out / f"{name}.jsonl"
        done = done_ids(path)
        rng = random.Random(seed)
        with JsonlWriter(path, append=True) as writer:
            for task in tqdm([p for p in chosen if p.id not in done], desc=name):
                cands = given[task.id] if given else synthesise(task, tasks, n, p_right, seed)
                right = [is_right(task, c) for c in cands]
                choice = best_of_n(grm, task.query, cands, k, group_size)
                picks = {
                    "grm": choice.index,
                    "random": rng.randrange(len(cands)),
                    "majority": majority(task, cands, rng),
                }
                writer.write(
                    {
                        "id": task.id,
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


def judged(name: str, data: Path) -> list[Task]:
    """Benchmark `name`'s problems a GRM of spct may be judged on: never one it trained on."""
    tasks = TASKS[name](data)
    return [p for p in tasks if training_split(p.query) != "train"] if name in TRAINED_ON else tasks


def draw(tasks: list[Task], limit: int | None, seed: int) -> list[Task]:
    """`limit` of `tasks` drawn by `seed`: the same ones every run."""
    return random.Random(seed).sample(tasks, min(limit, len(tasks))) if limit else tasks


def read_candidates(path: Path) -> dict[str, list[str]]:
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
    scored = [results["benchmarks"][b] for b in results["benchmarks"]]
    rows = [[s, *(estimate(r[s], "accuracy") for r in scored)] for s in SELECTIONS]
    rows.append(["right candidates", *(f"{100 * r['right_share']:.1f}%" for r in scored)])
    rows.append(
        ["GRM undecided (a tie or no parse kept the first)", *(f"{r['undecided']} of {r['grm']['n']}" for r in scored)]
    )
    path.write_text("\n".join(markdown_table(["selection", *results["benchmarks"]], rows)) + "\n")


def _plot(results: dict, path: Path) -> None:
    names = list(results["benchmarks"])
    width = 0.8 / len(SELECTIONS)
    title = f"best-of-{results['n']}: {Path(results['model']).name}"
    with figure(path, title, "", "selected answer right (%)") as ax:
        for i, s in enumerate(SELECTIONS):
            rows = [results["benchmarks"][b][s] for b in names]
            ax.bar(
                [x + i * width for x in range(len(names))],
                [100 * r["accuracy"] for r in rows],
                width,
                label=s,
                yerr=[
                    [100 * (r["accuracy"] - r["low"]) for r in rows],
                    [100 * (r["high"] - r["accuracy"]) for r in rows],
                ],
            )
        ax.set_xticks([x + width * (len(SELECTIONS) - 1) / 2 for x in range(len(names))], names)
