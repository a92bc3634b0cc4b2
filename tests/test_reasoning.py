"""Downstream reasoning checks (GSM8K, MATH-500, HumanEval from ../shared/data): the answer
checkers, the synthetic candidates (every wrong variant really is wrong), and the selections."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers import DATA, ScriptedJudge

from spct.backends.base import Completion, Sampling
from spct.eval import reasoning as R
from spct.eval.benchmarks import gsm8k, humaneval, math500
from spct.grm import GRM


def test_answer_checkers():
    assert gsm8k.final_number("So 3 + 4 = 7.\nThe answer is 1,234.") == "1234"
    assert gsm8k.final_number("costs $18.50 in all") == "18.5" and gsm8k.final_number("no number") == ""
    assert math500.last_boxed(r"first \boxed{1}, then \boxed{\frac{1}{2}} done") == r"\frac{1}{2}"
    assert math500.last_boxed(r"\boxed{unclosed") is None
    assert math500.normalise_math(r"\left( 3, \dfrac{\pi}{2} \right)") == r"(3,\frac{\pi}{2})"
    assert humaneval.passes("def f(): return 1\nassert f() == 1") and not humaneval.passes("assert False")
    assert not humaneval.passes("while True: pass", timeout=1.0)  # a looping candidate is wrong, not a hang


@pytest.mark.parametrize("name", ["gsm8k", "math500", "humaneval"])
def test_synthetic_candidates_are_right_or_verified_wrong(name: str):
    problems = R.TASKS[name](DATA)
    assert len(problems) == {"gsm8k": 1319, "math500": 500, "humaneval": 164}[name]
    for p in random.Random(1).sample(problems, 4):
        wrong = R.wrong_variants(p, problems, random.Random(p.id))
        assert wrong and not any(R.is_right(p, w) for w in wrong)
        candidates = R.synthesise(p, problems, 8, 0.5, seed=0)
        drawn_from = R.wrong_variants(p, problems, random.Random(f"0-{p.id}"))  # the same draw as synthesise's
        assert len(candidates) == 8 and all(R.is_right(p, c) or c in drawn_from for c in candidates)
        assert R.synthesise(p, problems, 8, 0.5, seed=0) == candidates  # seeded: reruns compare


def test_selection_by_a_perfect_judge_reaches_the_oracle_and_resumes(tmp_path: Path):
    references = {p.reference for p in gsm8k.load(DATA)}
    judge = ScriptedJudge(good=references.__contains__)  # knows the right solutions, judged in pairs
    grm = GRM(backend=judge)
    results = R.run(["gsm8k"], grm, DATA, tmp_path, n=4, p_right=0.4, limit=12, group_size=2)
    row = results["benchmarks"]["gsm8k"]
    assert row["grm"]["n"] == 12 and row["grm"]["accuracy"] == row["oracle"]["accuracy"] > row["random"]["accuracy"]
    assert 0 < row["right_share"] < 1 and row["undecided"] > 0  # two wrong ones in a group tie: said, not hidden
    table = (tmp_path / "results.md").read_text().splitlines()
    assert table[0] == "| selection | gsm8k |" and [line.split(" |")[0] for line in table[2:6]] == [
        "| grm",
        "| random",
        "| majority",
        "| oracle",
    ]
    assert (tmp_path / "results.png").stat().st_size > 0
    calls = len(judge.calls)
    R.run(["gsm8k"], grm, DATA, tmp_path, n=4, p_right=0.4, limit=12, group_size=2)
    assert len(judge.calls) == calls  # every problem read back


def test_majority_follows_the_most_common_answer():
    p = gsm8k.load(DATA)[0]  # the answer is 18
    cands = ["x\nThe answer is 9.", "y\nThe answer is 18.", "z\nThe answer is 9.", "The answer is 17."]
    assert R.majority(p, cands, random.Random(0)) == 0


def test_given_candidates_are_checked_and_bad_files_named(tmp_path: Path):
    given = tmp_path / "c.jsonl"
    # gsm8k-0 is in spct's training split, so never judged; gsm8k-1 (answer 3) is not
    lines = [
        {"id": "gsm8k-0", "candidates": ["The answer is 18.", "x"]},
        {"id": "gsm8k-1", "candidates": ["The answer is 3.", "The answer is 9."]},
    ]
    given.write_text("".join(json.dumps(line) + "\n" for line in lines))
    results = R.run(
        ["gsm8k"], GRM(backend=ScriptedJudge(good=lambda r: "3." in r)), DATA, tmp_path / "o", candidates=given
    )
    assert results["benchmarks"]["gsm8k"]["grm"] == {"accuracy": 1.0, "low": 1.0, "high": 1.0, "n": 1}
    assert results["benchmarks"]["gsm8k"]["right_share"] == 0.5
    given.write_text(json.dumps({"id": "gsm8k-0", "candidates": "The answer is 18."}) + "\n")
    with pytest.raises(ValueError, match=r"c.jsonl:1: field 'candidates' must be a non-empty list of strings"):
        R.run(["gsm8k"], GRM(backend=ScriptedJudge()), DATA, tmp_path / "o2", candidates=given)


class CannedPolicy:
    """A policy backend that answers each HumanEval problem with three replies a chat model writes:
    the body alone in a block, the whole function without its imports, and a wrong function."""

    model_id = "canned"

    def __init__(self) -> None:
        self.tasks = humaneval.load(DATA)
        self.asked: list[str] = []

    def generate(self, prompts, sampling):
        out = []
        for (message,) in prompts:
            self.asked.append(message["content"])
            task = next(t for t in self.tasks if message["content"].startswith(t.query))
            body = task.reference[len(task.meta["prompt"]) :]
            bare = "\n".join(line for line in task.reference.splitlines() if not line.startswith(("from ", "import ")))
            replies = [
                f"Here it is:\n```python\n{body}```\nDone.",
                f"```python\n{bare}\n```",
                f"```py\n{task.meta['prompt']}    return None\n```",
            ]
            out.append([Completion(r, "stop") for r in replies[: sampling.n]])
        return out


def test_a_policys_candidates_are_sampled_once_into_a_file_and_read_as_programs(tmp_path: Path):
    policy = CannedPolicy()
    grm = GRM(backend=ScriptedJudge(good=lambda r: "return None" not in r))
    results = R.run(["humaneval"], grm, DATA, tmp_path, n=3, limit=4, policy=policy)
    assert len(policy.asked) == 4 and all(R.ASK["code"] in a for a in policy.asked)
    written = [json.loads(line) for line in (tmp_path / "candidates.jsonl").read_text().splitlines()]
    assert len(written) == 4 and all(r["policy"] == "canned" and len(r["candidates"]) == 3 for r in written)
    rows = [json.loads(line) for line in (tmp_path / "humaneval.jsonl").read_text().splitlines()]
    # the bare body and the function without its imports both run once put back together; "return None" fails
    assert [r["right"] for r in rows] == [[True, True, False]] * 4
    assert results["benchmarks"]["humaneval"]["grm"]["accuracy"] == 1.0
    again = tmp_path / "again"
    R.run(["humaneval"], grm, DATA, again, n=3, limit=4, policy=policy, candidates=tmp_path / "candidates.jsonl")
    assert len(policy.asked) == 4  # the candidates file is read back, not sampled again
    first = policy.tasks[0]  # imports List from typing, which a reply often leaves out
    body, bare, wrong = policy.generate([[{"role": "user", "content": first.query}]], Sampling(n=3))[0]
    assert [R.is_right(first, R.as_candidate(first, c.text)) for c in (body, bare, wrong)] == [True, True, False]
    assert not R.is_right(first, bare.text.split("```")[1].removeprefix("python\n"))  # as written: no import
