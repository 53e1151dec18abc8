"""Index snapshots in the data directory: one folder per knowledge-base version and
a ``CURRENT`` file naming the one in use, replaced atomically."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from knowledge_base.embedder import Embedder
from knowledge_base.index import FaissFaqIndex, Fusion

KEEP = 3


class IndexStore:
    """Saves and loads index snapshots under ``root``.

    Snapshots are per embedder: switching the embedder never loads vectors of
    another model.
    """

    def __init__(self, root: Path, embedder: Embedder) -> None:
        self.root = root / _slug(embedder.name)
        self._embedder = embedder

    @property
    def _current_file(self) -> Path:
        return self.root / "CURRENT"

    def current_version(self) -> int | None:
        """The version ``CURRENT`` names, if any."""
        try:
            return int(self._current_file.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return None

    def has(self, version: int) -> bool:
        return (self.root / f"v{version}" / "meta.json").exists()

    def load(self, version: int, fusion: Fusion | None = None) -> FaissFaqIndex:
        return FaissFaqIndex.load(self.root / f"v{version}", self._embedder, fusion)

    def publish(self, index: FaissFaqIndex) -> Path:
        """Save ``index`` and make it current; older snapshots beyond a few are pruned."""
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / f"v{index.version}"
        if not self.has(index.version):
            staging = Path(tempfile.mkdtemp(prefix=".build-", dir=self.root))
            try:
                index.save(staging)
                with contextlib.suppress(FileExistsError, OSError):
                    os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        current = self.current_version()
        if current is None or current <= index.version:
            pointer = self.root / f".CURRENT-{os.getpid()}"
            pointer.write_text(str(index.version), encoding="utf-8")
            os.replace(pointer, self._current_file)
        self._prune()
        return target

    def _prune(self) -> None:
        versions = sorted(
            (int(p.name[1:]) for p in self.root.glob("v*") if p.name[1:].isdigit()),
            reverse=True,
        )
        current = self.current_version()
        for version in versions[KEEP:]:
            if version != current:
                shutil.rmtree(self.root / f"v{version}", ignore_errors=True)


def _slug(name: str) -> str:
    """A directory name for an embedder: readable prefix, unique suffix."""
    readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:48]
    return f"{readable}-{hashlib.blake2b(name.encode(), digest_size=4).hexdigest()}"
