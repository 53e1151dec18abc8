"""Factories for test data. Each channel keeps its own section."""

from __future__ import annotations

# --- telegram ---

# --- vk ---
