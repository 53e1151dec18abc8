"""The Rasa server and the action server as children of `djinn run` (unless
``DJINN_RASA_MANAGED=0`` says they run elsewhere)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from core.settings import Settings
from nlu.processes import ChildSpec, SupervisedProcess
from nlu.project import ModelCache, RasaProject, rasa_venv

ACTIONS_MODULE = "nlu.actions"
# Our venv's variables would break Rasa's Python 3.10 venv.
_FOREIGN = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def model_cache(settings: Settings, project: RasaProject | None = None) -> ModelCache:
    """The trained models of ``project`` (by default ours) in the data directory."""
    return ModelCache(settings.rasa_dir / "models", project or RasaProject(), rasa_venv(settings))


def missing_for_managed(settings: Settings, cache: ModelCache) -> str | None:
    """What `djinn run` lacks to start Rasa itself, in Russian; None when nothing."""
    if not cache.venv.installed():
        return f"не установлен Rasa ({cache.venv.path}; make setup-rasa или make run)"
    missing = cache.project.missing()
    if missing:
        return f"нет файлов проекта Rasa: {', '.join(missing)}"
    if not cache.current().exists():
        return (
            f"модель для текущих файлов nlu/ не обучена ({cache.current()}; "
            "djinn nlu train или make run)"
        )
    return None


def _address(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", str(parts.port or 80)


def rasa_spec(settings: Settings, cache: ModelCache, model: Path) -> ChildSpec:
    host, port = _address(settings.rasa_url)
    project = cache.project
    argv = [
        str(cache.venv.rasa), "run", "--enable-api",
        "--interface", host, "--port", port,
        "--model", str(model.resolve()),
        "--endpoints", str(project.endpoints), "--credentials", str(project.credentials),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
    env |= {
        "ACTION_SERVER_URL": settings.action_server_url.rstrip("/"),
        "DJINN_RASA_TRACKER_DB": str((settings.rasa_dir / "tracker.sqlite3").resolve()),
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    return ChildSpec("Rasa", argv, env, settings.rasa_dir, settings.logs_dir / "rasa.log")


def action_server_spec(settings: Settings) -> ChildSpec:
    """``python -m nlu.actions`` in our venv, with our settings as its environment."""
    host, port = _address(settings.action_server_url)
    argv = [sys.executable, "-m", ACTIONS_MODULE, "--host", host, "--port", port]
    env = {**os.environ, **settings.as_environment()}
    # Not the repository: a .env there must not fill in what these settings left unset.
    cwd = settings.data_dir.resolve()
    return ChildSpec("action server", argv, env, cwd, settings.logs_dir / "actions.log")


class RasaServers:
    """Rasa and the action server, each supervised (restarted when it dies).

    Args:
        settings: Where they listen (``RASA_URL``, ``ACTION_SERVER_URL``), the data
            directory for the tracker store and the logs; the action server gets
            all of them as its environment.
        model: The trained model Rasa loads.
        cache: The project and the venv (by default ours).
    """

    def __init__(self, settings: Settings, model: Path, cache: ModelCache | None = None) -> None:
        cache = cache or model_cache(settings)
        settings.rasa_dir.mkdir(parents=True, exist_ok=True)
        self.rasa = SupervisedProcess(rasa_spec(settings, cache, model))
        self.actions = SupervisedProcess(action_server_spec(settings))

    async def __aenter__(self) -> RasaServers:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def start(self) -> None:
        self.actions.start()
        self.rasa.start()

    async def stop(self) -> None:
        await asyncio.gather(self.rasa.stop(), self.actions.stop())
