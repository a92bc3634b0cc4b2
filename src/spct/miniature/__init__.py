"""Miniature models built from scratch: a BPE tokenizer with a chat template and a tiny Llama."""
