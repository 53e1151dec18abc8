"""The Rasa project on disk, the venv that runs Rasa, and the model cache: a model is
trained only when the files it is trained from changed."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = PROJECT_DIR.parent
DEFAULT_VENV = REPOSITORY_DIR / ".venv-rasa"
# Where `make run` / `make test` train (DJINN_DATA_DIR's default): the tests and the
# benchmarks take their model from here.
REPOSITORY_MODELS = REPOSITORY_DIR / "data" / "rasa" / "models"
# Older models are removed; a few stay for switching branches back and forth.
MODELS_KEPT = 3


@dataclass(frozen=True, slots=True)
class RasaProject:
    """The files Rasa is trained and run from.

    Attributes:
        root: Holds ``config.yml``, ``domain.yml`` (or a ``domain/`` directory),
            ``data/``, ``credentials.yml``, ``endpoints.yml`` and the pinned Rasa
            requirements.
    """

    root: Path = PROJECT_DIR

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    @property
    def domain(self) -> Path:
        directory = self.root / "domain"
        return directory if directory.is_dir() else self.root / "domain.yml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints.yml"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.yml"

    @property
    def plugins(self) -> Path:
        """Our own Rasa components (the ``djinn_rasa`` package in the Rasa venv)."""
        return self.root / "rasa_plugins"

    def training_files(self) -> list[Path]:
        """Everything a trained model depends on: the pipeline, our components, the
        domain, the training data and the Rasa version (a model only loads in the Rasa
        that trained it)."""
        files = [self.config, self.root / "requirements-rasa.txt"]
        files.append(self.root / "constraints-rasa.txt")
        for tree in (self.domain, self.data):
            files.extend(sorted(p for p in tree.rglob("*") if p.is_file()) or [tree])
        # Sources only: not the bytecode, nor the egg-info an editable install leaves.
        files.extend(sorted(p for p in self.plugins.rglob("*") if p.suffix in {".py", ".toml"}))
        return files

    def missing(self) -> list[str]:
        """The project files that do not exist, relative to the repository."""
        needed = [self.config, self.domain, self.data, self.endpoints, self.credentials]
        return [_relative(p) for p in needed if not p.exists()]

    def fingerprint(self) -> str:
        """A hash of the training files' names and contents."""
        digest = hashlib.sha256()
        for path in self.training_files():
            digest.update(path.relative_to(self.root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() if path.is_file() else b"<missing>")
            digest.update(b"\0")
        return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RasaVenv:
    """The Python 3.10 venv Rasa is installed in (`make setup-rasa`)."""

    path: Path = DEFAULT_VENV

    @property
    def rasa(self) -> Path:
        return self.path / "bin" / "rasa"

    def installed(self) -> bool:
        return os.access(self.rasa, os.X_OK)


@dataclass(frozen=True, slots=True)
class TrainedModel:
    path: Path
    trained: bool
    seconds: float = 0.0


class ModelCache:
    """Trained models in ``directory``, named by the fingerprint of their project.

    Args:
        directory: Where models are kept (``DATA_DIR/rasa/models``).
        project: The Rasa project.
        venv: The venv with Rasa.
    """

    def __init__(self, directory: Path, project: RasaProject, venv: RasaVenv) -> None:
        self.directory = directory.resolve()
        self.project = project
        self.venv = venv

    def current(self) -> Path:
        """Where the model of the project as it is now is (or would be) stored."""
        return self.directory / f"{self.project.fingerprint()}.tar.gz"

    def ensure(self, echo: Callable[[str], None] = print) -> TrainedModel:
        """The current model, trained first when it is not cached.

        Raises:
            TrainingError: Rasa is not installed, or training failed.
        """
        if not self.venv.installed():
            raise TrainingError(f"Rasa не установлен ({self.venv.rasa}): make setup-rasa")
        missing = self.project.missing()
        if missing:
            raise TrainingError(f"не хватает файлов проекта Rasa: {', '.join(missing)}")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock():
            target = self.current()
            if target.exists():
                return TrainedModel(target, trained=False)
            echo(
                f"Обучение модели Rasa → {target} (файлы nlu/ изменились; "
                f"журнал: {self.directory / 'training.log'})…"
            )
            started = time.monotonic()
            self._train(target)
            self._prune(keep=target)
            return TrainedModel(target, trained=True, seconds=time.monotonic() - started)

    def _train(self, target: Path) -> None:
        scratch = self.directory / f".training-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        log = self.directory / "training.log"
        command = [
            str(self.venv.rasa), "train",
            "--config", str(self.project.config),
            "--domain", str(self.project.domain),
            "--data", str(self.project.data),
            "--out", str(scratch),
            "--fixed-model-name", target.name.removesuffix(".tar.gz"),
        ]  # fmt: skip
        env = {**os.environ, "RASA_CACHE_DIRECTORY": str(self.directory.parent / "cache")}
        try:
            with log.open("w", encoding="utf-8") as output:
                result = subprocess.run(
                    command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=scratch.parent
                )
            trained = scratch / target.name
            if result.returncode != 0 or not trained.exists():
                raise TrainingError(
                    f"обучение Rasa завершилось с кодом {result.returncode}:\n{_tail(log)}"
                    f"\nПолный журнал: {log}"
                )
            os.replace(trained, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _prune(self, keep: Path) -> None:
        models = sorted(
            (p for p in self.directory.glob("*.tar.gz") if p != keep),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in models[MODELS_KEPT - 1 :]:
            old.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One training at a time per cache (``make run`` and the tests may race)."""
        with (self.directory / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def rasa_venv(settings: Settings) -> RasaVenv:
    return RasaVenv(settings.rasa_venv or DEFAULT_VENV)


class TrainingError(RuntimeError):
    """The model could not be trained; the message says why, in Russian."""


def _relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return path.relative_to(REPOSITORY_DIR).as_posix()
    return str(path)


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
