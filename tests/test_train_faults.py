"""Training jobs under faults: killed mid-run they resume from their last checkpoint at its step;
a full disk and bad training data stop them with a clear message naming what went wrong."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spct.cli import app
from spct.train.checkpoints import resume_point

TRAIN = [sys.executable, "-m", "spct.cli", "train", "baseline", "--kind", "bt", "--batch_size", "2"]


@pytest.mark.slow
def test_a_killed_training_run_resumes_from_its_last_checkpoint_at_that_step(tmp_path: Path):
    out = tmp_path / "run"
    command = [*TRAIN, "--items", "60", "--save_steps", "3", "--out", str(out)]
    env = {**os.environ, "TRANSFORMERS_VERBOSITY": "info"}
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    steps: list[int] = []
    while not any(s >= 6 for s in steps) and time.monotonic() < deadline and job.poll() is None:
        steps = [int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*")] if out.exists() else []
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not (out / "model").exists(), "the run finished before it could be killed"
    # a kill between saving one checkpoint and deleting the last leaves two; mid-save, the newest is incomplete
    kept = int(Path(resume_point(out / "checkpoints")).name.split("-")[1])
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = rerun.stdout + rerun.stderr
    assert f"Resuming training from checkpoint with epoch 0 and global step {kept}" in log
    total = int(re.search(r"Total optimization steps = (\d+)", log).group(1))
    card = json.loads((out / "model" / "baseline.json").read_text())
    assert total > kept and card["log"]


def test_resume_skips_a_checkpoint_cut_off_mid_save(tmp_path: Path):
    for step, complete in ((3, True), (6, True), (9, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert resume_point(tmp_path) == str(tmp_path / "checkpoint-6")
    assert resume_point(tmp_path / "nothing") is None


@pytest.mark.slow
def test_a_full_disk_is_a_clear_error(tmp_path: Path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True)
    assert mounted.returncode == 0, f"this test mounts a 2 MB tmpfs as root: {mounted.stderr.decode()}"
    try:
        result = subprocess.run(
            [*TRAIN, "--items", "10", "--out", str(disk / "run")], capture_output=True, text=True, timeout=600
        )
    finally:
        subprocess.run(["umount", str(disk)])
    assert result.returncode == 1
    message = " ".join((result.stdout + result.stderr).split())
    assert f"the disk is full writing under {disk / 'run'}" in message and "Traceback" not in message


def test_bad_training_data_stops_before_any_compute_naming_the_record(tmp_path: Path):
    data = tmp_path / "train.jsonl"
    data.write_text(
        json.dumps({"id": "ok", "query": "q", "responses": ["a", "b"], "best": 0})
        + "\n"
        + json.dumps({"id": "unlabelled", "query": "q", "responses": ["a", "b"]})
        + "\n"
    )
    result = CliRunner().invoke(app, ["train", "baseline", "--data", str(data), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "item 'unlabelled': field 'best' or 'rating' is required" in " ".join(result.output.split())
    data.write_text('{"id": "x", "query": "q", "responses": "not a list", "best": 0}\n')
    result = CliRunner().invoke(app, ["train", "rft", "--data", str(data), "--out", str(tmp_path / "run2")])
    assert result.exit_code == 2 and "train.jsonl:1 (id 'x'): field 'responses'" in " ".join(result.output.split())
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
