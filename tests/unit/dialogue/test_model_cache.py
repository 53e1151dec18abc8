"""The Rasa model is trained only when the files it is trained from change. A stand-in
`rasa` executable records each training (the real one is in the integration tests)."""

import os
import shutil
import sys
from pathlib import Path

import pytest

from nlu.project import (
    MODELS_KEPT,
    PROJECT_DIR,
    ModelCache,
    RasaProject,
    RasaVenv,
    TrainingError,
)

FAKE_RASA = f"""\
#!{sys.executable}
import sys, pathlib
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--out") + 1])
name = args[args.index("--fixed-model-name") + 1]
with open(pathlib.Path(__file__).with_name("trainings"), "a") as log:
    log.write(" ".join(args) + "\\n")
if "fail" in pathlib.Path(args[args.index("--config") + 1]).read_text():
    print("InvalidConfigException: the pipeline is broken")
    sys.exit(1)
out.mkdir(parents=True, exist_ok=True)
(out / (name + ".tar.gz")).write_bytes(b"model")
"""


@pytest.fixture
def project(tmp_path) -> RasaProject:
    root = tmp_path / "nlu"
    (root / "data" / "nlu").mkdir(parents=True)
    for name in ("requirements-rasa.txt", "constraints-rasa.txt"):
        shutil.copy(PROJECT_DIR / name, root / name)
    (root / "config.yml").write_text("pipeline: []\n")
    (root / "domain.yml").write_text("intents: [greet]\n")
    (root / "credentials.yml").write_text("rest:\n")
    (root / "endpoints.yml").write_text("{}\n")
    (root / "data" / "nlu" / "greet.yml").write_text("nlu: []\n")
    (root / "rasa_plugins" / "djinn_rasa").mkdir(parents=True)
    (root / "rasa_plugins" / "djinn_rasa" / "e5.py").write_text("x = 1\n")
    return RasaProject(root)


@pytest.fixture
def venv(tmp_path) -> RasaVenv:
    rasa = tmp_path / "venv" / "bin" / "rasa"
    rasa.parent.mkdir(parents=True)
    rasa.write_text(FAKE_RASA)
    rasa.chmod(0o755)
    return RasaVenv(tmp_path / "venv")


def trainings(venv: RasaVenv) -> int:
    log = venv.rasa.with_name("trainings")
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_model_is_trained_once_per_version_of_the_project(tmp_path, project, venv):
    cache = ModelCache(tmp_path / "models", project, venv)
    echoed: list[str] = []
    first = cache.ensure(echo=echoed.append)
    assert first.trained and first.path.read_bytes() == b"model"
    assert first.path.name == f"{project.fingerprint()}.tar.gz"
    assert len(echoed) == 1 and "Обучение" in echoed[0]

    again = cache.ensure(echo=echoed.append)
    assert (again.path, again.trained) == (first.path, False)
    assert trainings(venv) == 1 and len(echoed) == 1

    (project.root / "data" / "nlu" / "greet.yml").write_text("nlu: [changed]\n")
    changed = cache.ensure()
    assert changed.trained and changed.path != first.path
    assert trainings(venv) == 2
    assert not list((tmp_path / "models").glob(".training-*"))


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "config.yml").write_text("pipeline: [x]\n"),
        lambda root: (root / "domain.yml").write_text("intents: [bye]\n"),
        lambda root: (root / "data" / "rules.yml").write_text("rules: []\n"),
        lambda root: (root / "data" / "nlu" / "greet.yml").unlink(),
        lambda root: (root / "requirements-rasa.txt").write_text("rasa==3.6.20\n"),
        lambda root: (root / "rasa_plugins" / "djinn_rasa" / "e5.py").write_text("x = 2\n"),
        lambda root: (root / "rasa_plugins" / "djinn_rasa" / "new.py").write_text("y = 1\n"),
    ],
    ids=[
        "config",
        "domain",
        "new-data-file",
        "removed-data-file",
        "rasa-version",
        "component-code",
        "new-component",
    ],
)
def test_what_the_model_is_trained_from_changes_the_fingerprint(project, change):
    before = project.fingerprint()
    change(project.root)
    assert project.fingerprint() != before


def test_files_the_model_does_not_depend_on_leave_the_fingerprint(project):
    before = project.fingerprint()
    (project.root / "endpoints.yml").write_text("tracker_store: {}\n")
    (project.root / "actions").mkdir()
    (project.root / "actions" / "faq.py").write_text("print()\n")
    (project.root / "tests").mkdir()
    (project.root / "tests" / "nlu_test.yml").write_text("nlu: []\n")
    plugin = project.root / "rasa_plugins" / "djinn_rasa"
    (plugin / "__pycache__").mkdir()
    (plugin / "__pycache__" / "e5.cpython-310.pyc").write_bytes(b"\0")
    (plugin.parent / "djinn_rasa.egg-info").mkdir()
    (plugin.parent / "djinn_rasa.egg-info" / "PKG-INFO").write_text("Name: djinn-rasa\n")
    assert project.fingerprint() == before


def test_a_domain_directory_counts_like_a_domain_file(project):
    (project.root / "domain.yml").unlink()
    (project.root / "domain").mkdir()
    (project.root / "domain" / "intents.yml").write_text("intents: [greet]\n")
    assert project.domain == project.root / "domain"
    before = project.fingerprint()
    (project.root / "domain" / "slots.yml").write_text("slots: {}\n")
    assert project.fingerprint() != before


def test_a_failed_training_says_why_and_leaves_no_model(tmp_path, project, venv):
    (project.root / "config.yml").write_text("fail\n")
    cache = ModelCache(tmp_path / "models", project, venv)
    with pytest.raises(TrainingError, match="the pipeline is broken"):
        cache.ensure()
    assert not cache.current().exists()
    assert (tmp_path / "models" / "training.log").exists()


def test_without_rasa_installed_training_names_the_make_target(tmp_path, project):
    cache = ModelCache(tmp_path / "models", project, RasaVenv(tmp_path / "nowhere"))
    with pytest.raises(TrainingError, match="make setup-rasa"):
        cache.ensure()


def test_missing_project_files_are_named(tmp_path, project, venv):
    (project.root / "domain.yml").unlink()
    with pytest.raises(TrainingError, match=r"domain\.yml"):
        ModelCache(tmp_path / "models", project, venv).ensure()


def test_old_models_are_pruned(tmp_path, project, venv):
    cache = ModelCache(tmp_path / "models", project, venv)
    for number in range(MODELS_KEPT + 2):
        (project.root / "domain.yml").write_text(f"intents: [greet{number}]\n")
        model = cache.ensure()
        os.utime(model.path, (number, number))
    kept = sorted((tmp_path / "models").glob("*.tar.gz"))
    assert len(kept) == MODELS_KEPT
    assert cache.current() in kept


def test_a_relative_models_directory_is_where_the_model_lands(
    tmp_path, project, venv, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    model = ModelCache(Path("data/rasa/models"), project, venv).ensure()
    assert model.path == tmp_path / "data" / "rasa" / "models" / model.path.name
    assert model.path.exists()
