"""The `spct` command line.

    spct score examples/items.jsonl -o runs/examples.jsonl --samples 4 --show
    spct score in.jsonl -o out.jsonl --backend openai --base-url http://127.0.0.1:8000/v1 --model NAME
    spct score in.jsonl -o out.jsonl -k 32 --strategy adaptive --per-order 4 --cache runs/cache.sqlite
    spct score in.jsonl -o out.parquet --ray --ray-workers 4

Every subcommand lists its options with --help.
"""

from __future__ import annotations

import errno
import importlib.util
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from spct.core.defaults import DEFAULT_BASE_URL, SCORING
from spct.core.items import Item, Judgment
from spct.grm import COMPACT_TEMPLATES, DEFAULT_MODEL, GRM
from spct.io import InputError, JsonlWriter, done_ids, read_items
from spct.scaling.strategies import STRATEGIES

app = typer.Typer(help="Generalist generative reward modeling (SPCT).", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


@app.callback()
def main() -> None:
    """spct: principles, critiques and scores from a generative reward model."""


def show(item: Item, judgment: Judgment, out: Console) -> None:
    """Print one judgment as a person reads it: each sample's principles, critique and scores.
    All of its text is untrusted (inputs and model output), so none of it is read as rich markup."""
    out.rule(f"[bold]{escape(item.id)}[/]")
    out.print(f"[bold]Query:[/] {escape(item.conversation[-1].content)}")
    for i, r in enumerate(item.responses):
        out.print(f"[bold]Response {i + 1}:[/] {escape(r)}")
    for s_i, s in enumerate(judgment.samples, 1):
        shown = ", ".join(str(o + 1) for o in s.order)
        out.print(f"\n[cyan]Sample {s_i}[/] (responses shown in order {shown})")
        for p in s.principles:
            weight = f" (weight {p.weight:g}%)" if p.weight is not None else ""
            out.print(f"  principle: {escape(p.text)}{weight}")
        if s.critique:
            out.print(f"  critique: {escape(s.critique)}")
        out.print(f"  scores (original order): {s.scores}" if s.ok else f"  [red]failed:[/] {escape(s.failure)}")
        if s.meta_score is not None:
            out.print(f"  meta reward {s.meta_score:.3f}: {'kept' if s.in_vote else 'left out of the vote'}")
    truth = f"  ground truth best: {item.best + 1}" if item.best is not None else ""
    best = f"Response {judgment.best + 1}" if judgment.best is not None else f"tie {[t + 1 for t in judgment.ties]}"
    out.print(
        f"\n[bold green]Voted rewards:[/] {judgment.rewards}  best: {best if judgment.rewards else 'none'}"
        f"  valid samples: {judgment.n_valid}/{len(judgment.samples)}{truth}"
    )


DTYPES = ("auto", "float32", "bfloat16", "float16")  # what --dtype accepts


def _backend_kwargs(backend: str, base_url: str, dtype: str | None) -> dict:
    """What the chosen backend takes of the command's options: the openai backend, a server address;
    the hf backend, a weights dtype if given (its sequences per forward pass are `SCORING.sequences`,
    `gpu_sequences` on a GPU)."""
    if dtype not in (None, *DTYPES):
        raise typer.BadParameter(f"{dtype!r}; choose one of {', '.join(DTYPES)}", param_hint="--dtype")
    if backend == "openai":
        return {"base_url": base_url}
    return {"dtype": dtype} if dtype else {}


DtypeOption = Annotated[
    str | None,
    typer.Option(
        help="hf backend: weights dtype (float32, bfloat16, or auto: the checkpoint's); "
        "default bfloat16 on a CPU with AMX (docs/performance.md), else auto"
    ),
]


def _fail(message: str) -> None:
    """One line on stderr and exit code 2: a usage or input problem, found before any work."""
    console.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(code=2)


PrincipleMode = Annotated[
    str,
    typer.Option(
        help="where the principles come from: generated (the paper's, written with the critique after reading the "
        "responses), query (written once per query before any response, shared by the k samples, cached), "
        "given (only --principle)"
    ),
]
PrincipleOption = Annotated[list[str] | None, typer.Option(help="a principle every judgment must apply (repeatable)")]
PrinciplesFile = Annotated[Path | None, typer.Option(help="one principle per line")]


def _principles(principle: list[str] | None, principles_file: Path | None) -> list[str]:
    lines = principles_file.read_text().splitlines() if principles_file else []
    return list(principle or []) + [ln.strip() for ln in lines if ln.strip()]


@app.command()
def score(
    input: Annotated[Path, typer.Argument(help="JSONL of items: id, query, responses[, best | rating]")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSONL of judgments, appended as they finish")],
    model: Annotated[str, typer.Option(help="local folder, hub name, or served model name")] = DEFAULT_MODEL,
    backend: Annotated[str, typer.Option(help="hf (in-process) or openai (any OpenAI-compatible server)")] = "hf",
    base_url: Annotated[str, typer.Option(help="openai backend: server address")] = DEFAULT_BASE_URL,
    dtype: DtypeOption = None,
    samples: Annotated[int, typer.Option("--samples", "-k", help="sampled judgments per item, voted")] = 1,
    strategy: Annotated[
        str | None, typer.Option(help="greedy, voting, meta or adaptive; default greedy for k = 1, else voting")
    ] = None,
    meta_rm: Annotated[str | None, typer.Option(help="strategy meta: sequence-classification checkpoint")] = None,
    k_meta: Annotated[int | None, typer.Option(help="strategy meta: judgments kept (default k // 2)")] = None,
    confidence: Annotated[
        float, typer.Option(help="strategy adaptive: stop when the vote holds with this probability (1 = surely)")
    ] = SCORING.confidence,
    round_size: Annotated[int, typer.Option(help="strategy adaptive: draws per round")] = SCORING.round_size,
    per_order: Annotated[
        int, typer.Option(help="draws sharing one response order and prompt prefill")
    ] = SCORING.per_order,
    cache: Annotated[Path | None, typer.Option(help="SQLite cache of completions, reused across runs")] = None,
    temperature: Annotated[
        float | None, typer.Option(help="default: greedy for k = 1, 0.5 for k > 1 (the paper's)")
    ] = None,
    top_p: Annotated[float, typer.Option()] = SCORING.top_p,
    seed: Annotated[int, typer.Option(help="seeds response shuffling and sampling")] = SCORING.seed,
    max_new_tokens: Annotated[int, typer.Option()] = SCORING.max_new_tokens,
    batch_size: Annotated[int, typer.Option(help="items per backend call")] = SCORING.batch_size,
    template: Annotated[
        str | None, typer.Option(help="pointwise, binary, compact, or a Jinja file; default: the model's own")
    ] = None,
    principle: PrincipleOption = None,
    principles_file: PrinciplesFile = None,
    principle_mode: PrincipleMode = "generated",
    lenient: Annotated[bool, typer.Option(help="the card's extractor: clip scores, accept [..]")] = False,
    resume: Annotated[bool, typer.Option(help="skip ids already in the output")] = False,
    show_judgments: Annotated[bool, typer.Option("--show", help="print every judgment in full")] = False,
    ray: Annotated[bool, typer.Option("--ray", help="judge on a Ray cluster (a local one if none is running)")] = False,
    ray_workers: Annotated[int, typer.Option(help="--ray: actors, each holding one GRM")] = 2,
) -> None:
    """Judge every item of INPUT and write one judgment per line to OUTPUT."""
    if not input.is_file():
        _fail(f"{input}: {'is a directory' if input.is_dir() else 'no such file'}; give a JSONL file of items")
    if output.is_dir() or (output.exists() and output.samefile(input)):
        _fail(f"{output}: {'is a directory' if output.is_dir() else 'is the input'}; give another output file")
    if (blocked := next((p for p in output.parents if p.exists() and not p.is_dir()), None)) is not None:
        _fail(f"{output}: {blocked} is a file, not a folder; give another output path")
    if output.suffix == ".parquet" and not ray:
        _fail(f"{output}: Parquet output is written by --ray; without it, write JSONL (.jsonl)")
    if ray and importlib.util.find_spec("ray") is None:
        _fail("--ray needs Ray: pip install 'spct[ray]'")
    if strategy is not None and strategy not in STRATEGIES:
        raise typer.BadParameter(f"{strategy!r}; choose one of {', '.join(STRATEGIES)}", param_hint="--strategy")
    backend_kwargs = _backend_kwargs(backend, base_url, dtype)
    grm_kwargs = dict(
        model=model,
        backend=backend,
        template=template,
        principles=_principles(principle, principles_file),
        principle_mode=principle_mode,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        lenient=lenient,
        per_order=per_order,
        cache=cache,
        meta_rm=meta_rm,
        **backend_kwargs,
    )
    options = {"strategy": strategy, "k_meta": k_meta, "confidence": confidence, "round_size": round_size}
    try:
        skip = done_ids(output) if resume and output.suffix != ".parquet" else set()
    except InputError as e:
        _fail(str(e))
    items, errors = [], 0
    for record in read_items(input):
        if isinstance(record, InputError):
            console.print(f"[red]skipped[/] {escape(str(record))}")
            errors += 1
        elif record.id not in skip:
            items.append(record)
    if ray:
        from spct.serve.ray_batch import score_on_ray

        judged = score_on_ray(
            items,
            output,
            grm_kwargs=grm_kwargs,
            k=samples,
            options=options,
            workers=ray_workers,
            batch_size=batch_size,
            append=resume,
        )
        console.print(
            f"{judged} judged on Ray, {len(skip)} already done, {errors} bad input records -> {escape(str(output))}"
        )
        raise typer.Exit(code=2 if errors else 0)
    try:
        grm = GRM(**grm_kwargs)
    except ValueError as e:  # a CacheError, or options that do not go together
        _fail(str(e))
    by_id = {it.id: it for it in items}
    stdout = Console(soft_wrap=True)
    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with JsonlWriter(output, append=resume) as writer, Progress(*columns, console=console) as bar:
        task = bar.add_task("scoring", total=len(items))
        for judgment in grm.score_items(items, k=samples, batch_size=batch_size, **options):
            writer.write(judgment)
            if show_judgments:
                show(by_id[judgment.id], judgment, stdout)
            bar.advance(task)
    console.print(f"{len(items)} judged, {len(skip)} already done, {errors} bad input records -> {escape(str(output))}")
    if errors:
        raise typer.Exit(code=2)


@app.command("serve")
def serve_command(
    model: Annotated[str, typer.Option(help="local folder, hub name, or served model name")] = DEFAULT_MODEL,
    backend: Annotated[str, typer.Option(help="hf (in-process) or openai (any OpenAI-compatible server)")] = "hf",
    base_url: Annotated[str, typer.Option(help="openai backend: server address")] = DEFAULT_BASE_URL,
    dtype: DtypeOption = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    token: Annotated[str | None, typer.Option(envvar="SPCT_TOKEN", help="bearer token every call must send")] = None,
    samples: Annotated[int, typer.Option("--samples", "-k", help="k of /get_reward")] = 1,
    response_marker: Annotated[
        str | None, typer.Option(help="/get_reward without prompts: the policy's assistant-turn marker to split at")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds a request may wait for its judgments")] = 120.0,
    max_items: Annotated[int, typer.Option(help="items per request")] = 64,
    meta_rm: Annotated[str | None, typer.Option(help="a meta RM for strategy meta")] = None,
    cache: Annotated[Path | None, typer.Option(help="SQLite cache of completions")] = None,
    principle: PrincipleOption = None,
    principles_file: PrinciplesFile = None,
    principle_mode: PrincipleMode = "generated",
    failed_reward: Annotated[
        float | None,
        typer.Option(help="/get_reward's reward for a query no sample parsed (default null; OpenRLHF needs a number)"),
    ] = None,
) -> None:
    """Serve the GRM over HTTP: /v1/score, /get_reward (OpenRLHF), /health, /metrics."""
    from spct.serve.app import Limits, serve

    backend_kwargs = _backend_kwargs(backend, base_url, dtype)
    try:
        grm = GRM(
            model,
            backend,
            meta_rm=meta_rm,
            cache=cache,
            principles=_principles(principle, principles_file),
            principle_mode=principle_mode,
            **backend_kwargs,
        )
    except ValueError as e:
        _fail(str(e))
    console.print(f"serving {escape(model)} on http://{host}:{port} (OpenAPI at /docs)")
    serve(
        grm,
        host,
        port,
        token=token,
        k=samples,
        response_marker=response_marker,
        limits=Limits(timeout=timeout, max_items=max_items),
        failed_reward=failed_reward,
    )


@app.command("export")
def export_command(
    gguf: Annotated[Path, typer.Option("--gguf", help="the GGUF file to write (llama.cpp's server, Ollama)")],
    model: Annotated[str, typer.Option(help="a registry base, or a LoRA adapter over one")] = DEFAULT_MODEL,
    type: Annotated[str, typer.Option("--type", help="f16, or q8_0 (half the size)")] = "f16",
) -> None:
    """Write a GRM, its adapter merged, as one GGUF file that llama.cpp and Ollama load."""
    from spct.backends.base import BackendError
    from spct.backends.export import export

    try:
        written = export(model, gguf, type)
    except (BackendError, ValueError) as e:
        _fail(str(e))
    console.print(f"wrote {escape(str(written))} ({written.stat().st_size / 2**20:.0f} MiB, {type})")


@app.command("best-of-n")
def best_of_n_command(
    input: Annotated[Path | None, typer.Argument(help="JSONL of items (query, responses); or use --query")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSONL of choices, for INPUT")] = None,
    query: Annotated[str | None, typer.Option(help="one query")] = None,
    candidate: Annotated[list[str] | None, typer.Option(help="a candidate answer (repeatable)")] = None,
    policy: Annotated[str | None, typer.Option(help="sample the candidates from this causal LM instead")] = None,
    n: Annotated[int, typer.Option(help="with --policy: candidates to sample")] = 8,
    model: Annotated[str, typer.Option(help="the GRM")] = DEFAULT_MODEL,
    samples: Annotated[int, typer.Option("--samples", "-k", help="sampled judgments per comparison")] = 1,
    group_size: Annotated[int, typer.Option(help="candidates judged together; more run as a knockout")] = 8,
) -> None:
    """The candidate the GRM prefers, with its critique."""
    from spct.backends.base import load_backend
    from spct.downstream.best_of_n import best_of_n, sample_candidates

    grm = GRM(model)
    if input is None:
        if query is None:
            raise typer.BadParameter("give INPUT or --query", param_hint="--query")
        candidates = sample_candidates(load_backend("hf", policy), query, n) if policy else list(candidate or [])
        choice = best_of_n(grm, query, candidates, samples, group_size)
        out = Console(soft_wrap=True)
        for i, c in enumerate(candidates):
            out.print(f"{'[bold green]*[/]' if i == choice.index else ' '} {i + 1}. {escape(c)}")
        out.print(
            f"\n[bold]critique:[/] {escape(choice.critique)}"
            + ("" if choice.decided else "\n[yellow]a tie was broken by taking the first tied candidate[/]")
        )
        return
    if output is None:
        raise typer.BadParameter("with INPUT, give --output", param_hint="--output")
    errors = 0
    with JsonlWriter(output, append=False) as writer:
        for record in read_items(input):
            if isinstance(record, InputError):
                console.print(f"[red]skipped[/] {escape(str(record))}")
                errors += 1
                continue
            choice = best_of_n(grm, record.query, record.responses, samples, group_size)
            writer.write(
                {
                    "id": record.id,
                    "index": choice.index,
                    "candidate": choice.candidate,
                    "critique": choice.critique,
                    "decided": choice.decided,
                }
            )
    if errors:
        raise typer.Exit(code=2)


@app.command("eval")
def eval_command(
    benchmarks: Annotated[
        list[str],
        typer.Argument(
            help="rewardbench, rewardbench2, ppe-preference, ppe-correctness, rmb, hh-rlhf, realmistake, miniature, "
            "the test splits of `spct data build` (rmb-test, hh-rlhf-test), or any preference file (JSONL, JSON, "
            "Parquet, CSV) or hub dataset (org/name): see --format"
        ),
    ],
    model: Annotated[
        str, typer.Option(help="local folder, hub name, served model name, or a baseline folder")
    ] = DEFAULT_MODEL,
    backend: Annotated[str, typer.Option(help="hf (in-process) or openai (any OpenAI-compatible server)")] = "hf",
    base_url: Annotated[str, typer.Option(help="openai backend: server address")] = DEFAULT_BASE_URL,
    dtype: DtypeOption = None,
    samples: Annotated[str, typer.Option(help="k values of voting, comma-separated; 1 alone: greedy only")] = "1,2,4,8",
    meta_rm: Annotated[str | None, typer.Option(help="meta RM folder: adds meta-RM voting@k (keeping k // 2)")] = None,
    data: Annotated[Path, typer.Option(help="folder of the benchmark files")] = Path("../shared/data"),
    out: Annotated[Path, typer.Option(help="judgments (resumable) and results")] = Path("runs/eval"),
    limit: Annotated[int | None, typer.Option(help="items per subset (the same ones every run)")] = None,
    batch_size: Annotated[int, typer.Option(help="items per backend call")] = SCORING.batch_size,
    max_new_tokens: Annotated[int, typer.Option()] = SCORING.max_new_tokens,
    max_prompt_tokens: Annotated[
        int | None,
        typer.Option(
            help="hf backend: leave out (and count) items whose prompt is longer, e.g. the window the GRM was trained"
        ),
    ] = None,
    items_of: Annotated[
        Path | None,
        typer.Option(help="judge exactly the items of an earlier run (its results.jsonl): a paired comparison"),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="a tie at the top is wrong (the training rule), not broken at random as the paper")
    ] = False,
    subsets: Annotated[bool, typer.Option(help="results.md: a table per subset too (miniature: per family)")] = False,
    format: Annotated[
        str | None,
        typer.Option(
            help="a file's format: pairwise (prompt, chosen, rejected), best-of-n (prompt, responses, best or "
            "scores) or rating (prompt, response, label 1/0); default: read from its columns"
        ),
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="a file's column names, ROLE=NAME,...: e.g. prompt=question,chosen=answer_a")
    ] = None,
    split: Annotated[str, typer.Option(help="a hub dataset's split")] = "train",
) -> None:
    """The paper's table for one model: results.json, results.md, results.png and results.jsonl under OUT."""
    from spct.backends.base import load_backend
    from spct.eval.benchmarks.files import parse_columns
    from spct.eval.run import lookup, run

    ks = sorted({int(k) for k in samples.split(",")})
    try:
        mapped = parse_columns(columns)
    except ValueError as e:
        raise typer.BadParameter(str(e).removeprefix("--columns: "), param_hint="--columns") from None
    try:  # every name read (a file's format too) before the model loads
        chosen = [lookup(name, format, mapped, split) for name in benchmarks]
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    engine = None
    if not (Path(model) / "baseline.json").is_file():  # a scalar baseline scores itself; a GRM needs a backend
        engine = load_backend(backend, model, **_backend_kwargs(backend, base_url, dtype))
    try:
        run(
            chosen,
            engine,
            ks,
            data,
            out,
            model=model,
            limit=limit,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            meta_rm=meta_rm,
            max_prompt_tokens=max_prompt_tokens,
            items_of=items_of,
            ties="strict" if strict else "random",
            subset_tables=subsets,
        )
    except (ValueError, FileNotFoundError) as e:  # a bad benchmark file or record, named; judgments so far are kept
        _fail(str(e))
    Console().print((out / "results.md").read_text())


@app.command("report")
def report_command(
    runs: Annotated[list[Path], typer.Argument(help="`spct eval` output folders, or their results.jsonl")],
    html: Annotated[Path | None, typer.Option(help="write one self-contained page of every item here")] = None,
    table: Annotated[
        Path | None,
        typer.Option(
            help="write the runs' rows as one Markdown table here, and a bar chart beside it; a model's runs on "
            "different benchmarks share its rows"
        ),
    ] = None,
    subsets: Annotated[bool, typer.Option(help="--table: a table per subset too (the miniature's families)")] = False,
) -> None:
    """Read `spct eval` results: every judgment on one HTML page, or several runs in one table."""
    import json

    from spct.eval.report import plot_runs, write_html, write_table
    from spct.eval.run import combine

    folders = [r.parent if r.is_file() else r for r in runs]
    if html is None and table is None:
        raise typer.BadParameter("give --html, --table or both", param_hint="--html")
    if html is not None:
        write_html([f / "results.jsonl" for f in folders], html)
        Console().print(f"wrote {html}")
    if table is not None:
        measured = combine([json.loads((f / "results.json").read_text()) for f in folders])
        write_table(measured, table, subsets=subsets)
        plot_runs(measured, table.with_suffix(".png"))
        Console().print(table.read_text())


@app.command("reasoning")
def reasoning_command(
    benchmarks: Annotated[list[str], typer.Argument(help="gsm8k, math500, humaneval")],
    model: Annotated[str, typer.Option(help="the GRM: local folder, hub name, or served model name")] = DEFAULT_MODEL,
    backend: Annotated[str, typer.Option(help="hf (in-process) or openai (any OpenAI-compatible server)")] = "hf",
    base_url: Annotated[str, typer.Option(help="openai backend: server address")] = DEFAULT_BASE_URL,
    dtype: DtypeOption = None,
    n: Annotated[int, typer.Option(help="candidates per problem (synthetic or sampled from --policy)")] = 4,
    p_right: Annotated[float, typer.Option(help="chance that a synthetic candidate is right")] = 0.4,
    candidates: Annotated[Path | None, typer.Option(help="JSONL of {id, candidates}: your policy's samples")] = None,
    policy: Annotated[
        str | None,
        typer.Option(help="sample --n candidates from this causal LM first, into --candidates or OUT/candidates.jsonl"),
    ] = None,
    samples: Annotated[int, typer.Option("--samples", "-k", help="GRM judgments voted per comparison")] = 1,
    group_size: Annotated[int, typer.Option(help="candidates judged side by side (more: a knockout)")] = 8,
    limit: Annotated[int | None, typer.Option(help="problems per benchmark (the same ones every run)")] = None,
    data: Annotated[Path, typer.Option(help="folder of the benchmark files")] = Path("../shared/data"),
    out: Annotated[Path, typer.Option(help="per-problem picks (resumable) and results")] = Path("runs/reasoning"),
) -> None:
    """Best-of-N by the GRM on GSM8K, MATH-500 and HumanEval, next to random and majority picks."""
    from spct.backends.base import load_backend
    from spct.eval.reasoning import run

    grm = GRM(model, backend, **_backend_kwargs(backend, base_url, dtype))
    run(
        benchmarks,
        grm,
        data,
        out,
        n=n,
        p_right=p_right,
        limit=limit,
        k=samples,
        group_size=group_size,
        candidates=candidates,
        policy=load_backend("hf", policy) if policy else None,
    )
    Console().print((out / "results.md").read_text())


train = typer.Typer(help="SPCT training: rejective fine-tuning, rule-based GRPO, the meta RM.")
app.add_typer(train, name="train")
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _disk_full(e: BaseException | None) -> bool:
    """Whether `e` or what caused it is a full disk: torch and safetensors wrap the OS error."""
    while e is not None:
        if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "No space left on device" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _train(ctx: typer.Context, config_class: type, module: str) -> None:
    """Every field of the stage's config dataclass is a flag (`--help` lists them with their
    help), and `--config FILE.yaml` sets any of them; flags win over the file."""
    import importlib

    from trl import TrlParser

    (cfg,) = TrlParser((config_class,), prog=ctx.command_path).parse_args_and_config(ctx.args)
    try:
        path = importlib.import_module(module).run(cfg)
    except InputError as e:  # bad training data: stopped before any compute, the record named
        console.print(f"[red]{ctx.info_name}: bad training data:[/] {escape(str(e))}")
        raise typer.Exit(code=2) from None
    except Exception as e:
        if not _disk_full(e):
            raise
        console.print(
            f"[red]{ctx.info_name}: the disk is full[/] writing under {escape(str(cfg.out))} "
            f"({escape(str(e))[:200]}); free space (or pick another --out) and rerun: it resumes from the "
            "last checkpoint"
        )
        raise typer.Exit(code=1) from None
    console.print(f"{ctx.info_name}: model written to {path}")


@train.command("rft", context_settings=PASS_THROUGH, add_help_option=False)
def train_rft(ctx: typer.Context) -> None:
    """Rejective fine-tuning: sample, reject, hint, SFT (flags: spct train rft --help)."""
    from spct.train.rft_config import RFTConfig

    _train(ctx, RFTConfig, "spct.train.rft")


@train.command("cold-start", context_settings=PASS_THROUGH, add_help_option=False)
def train_cold_start(ctx: typer.Context) -> None:
    """Format cold start of a pretrained base: LoRA SFT on rule-written judgments (flags: --help)."""
    from spct.train.cold_start_config import ColdStartConfig

    _train(ctx, ColdStartConfig, "spct.train.cold_start")


@train.command("grpo", context_settings=PASS_THROUGH, add_help_option=False)
def train_grpo(ctx: typer.Context) -> None:
    """Rule-based online RL with TRL's GRPOTrainer (flags: spct train grpo --help)."""
    from spct.train.grpo_config import GRPOConfig

    _train(ctx, GRPOConfig, "spct.train.grpo")


@train.command("meta-rm", context_settings=PASS_THROUGH, add_help_option=False)
def train_meta_rm(ctx: typer.Context) -> None:
    """The meta RM for meta-RM-guided voting (flags: spct train meta-rm --help)."""
    from spct.train.meta_rm_config import MetaRMConfig

    _train(ctx, MetaRMConfig, "spct.train.meta_rm")


@train.command("baseline", context_settings=PASS_THROUGH, add_help_option=False)
def train_baseline(ctx: typer.Context) -> None:
    """A scalar baseline: Bradley-Terry or pairwise RM (flags: spct train baseline --help)."""
    from spct.train.baseline_config import BaselineConfig

    _train(ctx, BaselineConfig, "spct.train.baseline")


@train.command("ship")
def train_ship(
    stage: Annotated[Path, typer.Argument(help="a trained adapter folder, e.g. runs/real/rft/model")],
    out: Annotated[Path, typer.Option(help="where the package's default lives")] = Path("src/spct/models/smollm2-grm"),
    card: Annotated[list[Path] | None, typer.Option(help="an earlier stage's card to keep beside it")] = None,
) -> None:
    """Make a trained adapter the embedded default (`GRM()`): fp16 weights, config, cards."""
    from spct.train.stage import ship

    try:
        console.print(f"shipped to {ship(stage, out, tuple(card or ()))}")
    except ValueError as e:
        _fail(str(e))


data = typer.Typer(help="Training data built from public benchmark files.")
app.add_typer(data, name="data")


@data.command("build")
def data_build(
    data_dir: Annotated[Path, typer.Option("--data", help="the benchmark files (../shared/data)")] = Path(
        "../shared/data"
    ),
    model: Annotated[
        str, typer.Option(help="whose chat template and tokenizer measure the prompts")
    ] = "smollm2-135m-instruct",
    out: Annotated[Path, typer.Option(help="train/validation/test JSONL and stats.json")] = Path("runs/real/data"),
    max_prompt_tokens: Annotated[int, typer.Option(help="longer prompts are left out and counted")] = 1024,
    miniature_items: Annotated[int, typer.Option(help="miniature-world items over the three splits")] = 4000,
    seed: Annotated[int, typer.Option()] = 0,
    limit: Annotated[int | None, typer.Option(help="the first items of each source only (a quick look)")] = None,
) -> None:
    """The real-text training set, split by a hash of the query; held-out benchmarks never enter it."""
    import json

    from spct.train.real_data import build as build_data

    stats = build_data(
        data_dir,
        model,
        out,
        templates=COMPACT_TEMPLATES,
        max_prompt_tokens=max_prompt_tokens,
        miniature_items=miniature_items,
        seed=seed,
        limit=limit,
    )
    Console().print_json(json.dumps(stats))


miniature = typer.Typer(help="The miniature world: verifiable tasks, a teacher, a GRM trained from scratch.")
app.add_typer(miniature, name="miniature")


@miniature.command("build", context_settings=PASS_THROUGH, add_help_option=False)
def miniature_build(ctx: typer.Context) -> None:
    """Regenerate data, tokenizer and the warm-started model, reproducibly (flags: spct miniature build --help)."""
    from spct.train.warm_start_config import MiniatureConfig

    _train(ctx, MiniatureConfig, "spct.train.warm_start")


if __name__ == "__main__":  # accelerate launch -m spct.cli ...
    app()
