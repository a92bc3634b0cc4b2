"""Using a GRM's judgments downstream: picking the best of N candidates, and revising an answer
with the critique (the inference loop the paper leaves as future work, docs/method.md §7)."""
