"""Evaluation on public reward-model benchmarks (SPEC.md 5): loaders to core Items, the paper's metrics."""
