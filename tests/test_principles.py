"""Principle modes (grm.py): "generated" (the paper's), "query" (written once per query from the
query alone, cached, every sample continues from them) and "given" (the user's only)."""

from __future__ import annotations

import httpx
import pytest
from helpers import RESPONSE, ScriptedJudge, running
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletion
from typer.testing import CliRunner

from spct import GRM, Item
from spct.backends import Completion, Sampling
from spct.backends.base import continues
from spct.backends.hf import HFBackend
from spct.backends.openai import OpenAIBackend
from spct.cli import app
from spct.core import Principle
from spct.core.parse import parse_principles
from spct.grm import MINIATURE_MODEL
from spct.serve.app import create_app


class ContinuingJudge(ScriptedJudge):
    """Answers a prompt that opens the answer (ends with an assistant turn) with only the rest:
    the analysis and scores of ScriptedJudge. A prompt with no responses asks for principles:
    answered with `written` (the query's own words, so that a test sees which query it came from)."""

    def __init__(self, written: str = "1. About {query} (Weight: 100%)\n\nAnalysis") -> None:
        super().__init__()
        self.written = written
        self.principle_prompts: list[list[dict]] = []
        self.judging_prompts: list[list[dict]] = []

    def generate(self, prompts, sampling):
        assert continues(prompts)
        if not RESPONSE.findall(prompts[0][0]["content"]):
            self.principle_prompts += prompts
            query = [p[0]["content"].split("#### Conversation Context ####\nUser: ")[1].split("\n")[0] for p in prompts]
            return [[Completion(self.written.format(query=q), "stop", 9)] for q in query]
        self.judging_prompts += prompts
        full = super().generate(prompts, sampling)
        return [[Completion(c.text.split("Analysis:\n", 1)[1], "stop", 5) for c in cs] for cs in full]


def _group(query: str = "Name a prime.") -> list[Item]:
    """Two items of one query, as an RL group's completions judged in two calls."""
    return [Item(id=f"{query}-{i}", query=query, responses=["x"] * i + ["right", "no"]) for i in range(2)]


def test_query_mode_writes_principles_once_per_query_and_every_sample_continues_from_them(tmp_path):
    judge = ContinuingJudge()
    grm = GRM(backend=judge, principle_mode="query", principles=["Be exact."], cache=tmp_path / "c.sqlite")
    items = _group() + _group("Name a colour.")
    judgments = grm.score_batch(items, k=3)

    assert len(judge.principle_prompts) == 2  # one per distinct query, not per item or sample
    for prompt in judge.principle_prompts:
        assert "Be exact." in prompt[0]["content"] and not RESPONSE.findall(prompt[0]["content"])
        assert prompt[-1] == {"role": "assistant", "content": "Specific Criteria:\n"}
    for j, it in zip(judgments, items, strict=True):
        assert j.principle_mode == "query"
        assert j.principles == [Principle(text=f"About {it.query}", weight=100)]
        assert j.best == it.responses.index("right") and j.n_valid == 3  # scores read after the opening
        assert all(s.principles == j.principles for s in j.samples)
    for prompt in judge.judging_prompts:
        query = prompt[0]["content"].split("#### Conversation Context ####\nUser: ")[1].split("\n")[0]
        assert prompt[-1]["content"] == f"Specific Criteria:\n1. About {query} (Weight: 100%)\n\nAnalysis:\n"

    # the same queries again, in a new process (a fresh GRM on the same cache): no principle is written
    again = ContinuingJudge(written="1. Something else\n")
    regrm = GRM(backend=again, principle_mode="query", principles=["Be exact."], cache=tmp_path / "c.sqlite")
    fresh = [Item(id="new", query="Name a prime.", responses=["right", "nope"])]
    (j,) = regrm.score_batch(fresh, k=2)
    assert again.principle_prompts == [] and j.principles == [Principle(text="About Name a prime.", weight=100)]
    # a different seed is a different draw of principles
    other = ContinuingJudge()
    GRM(backend=other, principle_mode="query", seed=1, principles=["Be exact."], cache=tmp_path / "c.sqlite").score(
        "Name a prime.", ["right", "no"]
    )
    assert len(other.principle_prompts) == 1


def test_query_mode_judges_no_sample_of_a_query_whose_principles_did_not_parse():
    judge = ContinuingJudge(written="\n\nAnalysis")  # an empty criteria section
    (j,) = GRM(backend=judge, principle_mode="query").score_batch(_group()[:1], k=4)
    assert judge.judging_prompts == []
    assert j.rewards is None and j.n_valid == 0 and j.failures == {"no_principles": 4} and j.principles == []


def test_given_mode_opens_every_judgment_with_the_users_principles_only():
    judge = ContinuingJudge()
    grm = GRM(backend=judge, principle_mode="given", principles=["Cite a source.", "Be brief."])
    (j,) = grm.score_batch(_group()[1:], k=2)
    assert judge.principle_prompts == []
    assert j.principles == [Principle(text="Cite a source."), Principle(text="Be brief.")] and j.best == 1
    for prompt in judge.judging_prompts:
        assert "Required Principles" not in prompt[0]["content"]  # once, where the model continues from
        assert prompt[-1]["content"] == "Specific Criteria:\n1. Cite a source.\n2. Be brief.\n\nAnalysis:\n"


def test_generated_mode_is_the_papers_one_generation():
    judge = ScriptedJudge()
    (j,) = GRM(backend=judge).score_batch(_group()[:1], k=2)
    assert j.principle_mode == "generated" and j.principles == [] and j.samples[0].principles  # each sample's own


def test_modes_refuse_what_they_cannot_do(tmp_path):
    with pytest.raises(ValueError, match="unknown principle mode 'rubric'"):
        GRM(backend=ScriptedJudge(), principle_mode="rubric")
    with pytest.raises(ValueError, match="'given' judges by the user's principles only"):
        GRM(backend=ScriptedJudge(), principle_mode="given")
    with pytest.raises(ValueError, match="all end with an assistant turn"):
        continues([[{"role": "user", "content": "a"}], [{"role": "assistant", "content": "b"}]])
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "a", "query": "q", "responses": ["r"]}\n')
    result = CliRunner().invoke(
        app, ["score", str(items), "-o", str(tmp_path / "out.jsonl"), "--principle-mode", "given"]
    )
    assert result.exit_code == 2 and "'given' judges by the user's principles only" in result.output


def test_parse_principles_reads_the_criteria_section_only():
    text = "Specific Criteria:\n1. Exact (Weight: 60%)\n2. Short (Weight: 40%)\n\nAnalysis:\nResponse 1 \\boxed{3}"
    assert parse_principles(text) == [Principle(text="Exact", weight=60), Principle(text="Short", weight=40)]
    assert parse_principles("Specific Criteria:\n- Kind\nScores: \\boxed{2, 3}") == [Principle(text="Kind")]
    assert parse_principles("Specific Criteria:\n1. Exact\n\nAnalysis") == [Principle(text="Exact")]  # a stop string
    assert parse_principles("Analysis: none") == [] and parse_principles("") == []


@pytest.mark.slow
def test_hf_backend_continues_an_opened_answer_and_stops_at_a_stop_string():
    """On the miniature GRM: continuing its own greedy judgment from the analysis header gives the
    rest of that judgment, token for token; a stop string ends the criteria section there."""
    backend = HFBackend(MINIATURE_MODEL)
    grm = GRM(backend=backend, shuffle=False)
    prompt = grm.template.render(Item(id="x", query="What is 47 + 38?", responses=["85", "75"]), [0, 1])
    greedy = Sampling(n=1, temperature=0.0, max_new_tokens=200)
    (full,) = backend.generate([prompt], greedy)[0]
    cut = full.text.index("Analysis:\n") + len("Analysis:\n")
    (rest,) = backend.generate([[*prompt, {"role": "assistant", "content": full.text[:cut]}]], greedy)[0]
    assert rest.text == full.text[cut:] and "\\boxed{" in rest.text
    (criteria,) = backend.generate([prompt], Sampling(n=1, temperature=0.0, max_new_tokens=200, stop=("Analysis",)))[0]
    assert criteria.text == full.text[: cut - len(":\n")] and criteria.finish_reason == "stop"
    assert (
        backend.prompt_tokens([[*prompt, {"role": "assistant", "content": full.text[:cut]}]])[0]
        > (backend.prompt_tokens([prompt])[0])
    )


def test_openai_backend_asks_the_server_to_continue_an_opened_answer(monkeypatch: pytest.MonkeyPatch):
    """vLLM's and SGLang's fields, sent only for a prompt that ends with the assistant's turn."""
    sent = []

    async def create(self, **kwargs):
        sent.append(kwargs)
        return ChatCompletion.model_validate(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
            }
        )

    monkeypatch.setattr(AsyncCompletions, "create", create)
    backend = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")
    user = [{"role": "user", "content": "q"}]
    backend.generate([user], Sampling(n=1))
    backend.generate([[*user, {"role": "assistant", "content": "Specific Criteria:\n"}]], Sampling(n=1, stop=("A",)))
    assert "extra_body" not in sent[0] and "stop" not in sent[0]
    assert sent[1]["extra_body"] == {"continue_final_message": True, "add_generation_prompt": False}
    assert sent[1]["stop"] == ["A"]


def test_server_reports_each_judgments_mode_and_principles():
    app = create_app(GRM(backend=ContinuingJudge(), principle_mode="query"))
    item = {"id": "a", "query": "Which is right?", "responses": ["wrong", "right"]}
    with running(app) as url:
        (result,) = httpx.post(f"{url}/v1/score", json={"items": [item], "k": 2}).json()["results"]
    assert result["principle_mode"] == "query" and result["principles"] == ["About Which is right?"]
    assert result["best"] == 1
