"""`spct score --ray` on a local Ray cluster started by the test: every item judged exactly once,
bad lines reported, resume judges nothing twice, Parquet out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spct.cli import app
from spct.grm import MINIATURE_MODEL
from spct.miniature.world import generate


@pytest.fixture(scope="module")
def cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_score_on_ray_judges_every_item_once_and_resumes(cluster, tmp_path: Path):
    items = generate(6, "test", 0)
    source = tmp_path / "items.jsonl"
    source.write_text("\n".join(it.model_dump_json() for it in items[:4]) + "\n{broken\n")
    out = tmp_path / "judged.jsonl"
    common = ["--ray", "--ray-workers", "1", "--model", MINIATURE_MODEL, "--max-new-tokens", "160", "--batch-size", "2"]
    r = CliRunner().invoke(app, ["score", str(source), "-o", str(out), *common])
    assert r.exit_code == 2, r.output  # the broken line is reported with its number, the rest judged
    assert ":5: not valid JSON" in r.output
    with source.open("a") as f:  # more items arrive; a resumed run judges only those
        f.write("\n".join(it.model_dump_json() for it in items[4:]) + "\n")
    r = CliRunner().invoke(app, ["score", str(source), "-o", str(out), "--resume", *common])
    assert "2 judged on Ray, 4 already done" in r.output, r.output
    judged = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(j["id"] for j in judged) == sorted(it.id for it in items)  # each exactly once
    assert all(len(j["samples"]) == 1 and j["n_responses"] >= 1 for j in judged)

    parquet = tmp_path / "judged.parquet"
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(it.model_dump_json() for it in items[:3]) + "\n")
    r = CliRunner().invoke(app, ["score", str(clean), "-o", str(parquet), *common])
    assert r.exit_code == 0, r.output
    import pandas as pd

    table = pd.read_parquet(parquet)
    assert sorted(table["id"]) == sorted(it.id for it in items[:3])
