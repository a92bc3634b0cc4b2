"""Evaluation on public reward-model benchmarks (docs/method.md §5): loaders to core Items, the paper's metrics."""
