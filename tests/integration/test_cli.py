"""The djinn command as an administrator runs it (a real process, real files)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def djinn(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DJINN_DATA_DIR": str(data_dir), **(env or {})},
    )


def test_search_prints_one_json_object_per_query(demo_data_dir):
    queries = "Как записаться в МФЦ?\n\nкто выиграл матч вчера\n"
    result = djinn(demo_data_dir, "kb", "search", "--top", "3", stdin=queries)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["Как записаться в МФЦ?", "кто выиграл матч вчера"]
    assert [line["decision"] for line in lines] == ["answer", "handoff"]
    assert len(lines[0]["hits"]) == 3
    assert set(lines[0]["hits"][0]) == {"id", "question", "answer", "score"}


def test_bad_file_is_refused_with_row_and_column_and_nothing_changes(demo_data_dir, tmp_path):
    bad = tmp_path / "faq.csv"
    bad.write_text(
        "Вопрос;Ответ\nКак сдать макулатуру?;В пункт приёма.\nГде взять мешки?;\n",
        encoding="utf-8",
    )
    before = djinn(demo_data_dir, "kb", "search", "--json", "Где взять мешки?").stdout
    result = djinn(demo_data_dir, "kb", "import", str(bad))
    assert result.returncode == 2
    assert "строка 3" in result.stderr and "Ответ" in result.stderr
    assert "не изменилась" in result.stderr
    assert djinn(demo_data_dir, "kb", "search", "--json", "Где взять мешки?").stdout == before


def test_import_then_search_finds_the_new_entry(demo_data_dir, tmp_path):
    good = tmp_path / "faq.csv"
    good.write_text(
        "Вопрос;Ответ;Категория\n"
        "Где сдать старые батарейки на переработку?;В экобоксы в магазинах и школах.;Экология\n",
        encoding="utf-8",
    )
    result = djinn(demo_data_dir, "kb", "import", str(good))
    assert result.returncode == 0, result.stderr
    assert "добавлено 1" in result.stdout
    found = json.loads(
        djinn(demo_data_dir, "kb", "search", "--json", "куда выбросить батарейки").stdout
    )
    assert found["hits"][0]["question"] == "Где сдать старые батарейки на переработку?"


def test_export_and_replace_import_round_trip(demo_data_dir, tmp_path):
    exported = tmp_path / "faq.xlsx"
    result = djinn(demo_data_dir, "kb", "export", str(exported))
    assert result.returncode == 0, result.stderr
    result = djinn(demo_data_dir, "kb", "import", str(exported), "--replace")
    assert result.returncode == 0, result.stderr
    assert "добавлено 0, изменено 0" in result.stdout and "в архив 0" in result.stdout


def test_run_without_tokens_starts_and_names_what_is_missing(demo_data_dir):
    process = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DJINN_DATA_DIR": str(demo_data_dir), "DJINN_METRICS_PORT": "0"},
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Djinn работает" in line or not line:
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    output = "".join(lines) + rest
    assert "TELEGRAM_BOT_TOKEN" in output
    assert "VK_GROUP_TOKEN" in output and "VK_GROUP_ID" in output
    assert "Djinn работает" in output and "Djinn остановлен" in output
    assert process.returncode == 0


def test_import_shows_entries_that_answer_the_same_question(tmp_path):
    rzd = Path(__file__).resolve().parents[2] / "bench" / "data" / "real" / "rzd-hr-faq" / "kb.csv"
    result = djinn(tmp_path / "data", "kb", "import", str(rzd), env={"DJINN_DEMO_FAQ": "off"})
    assert result.returncode == 0, result.stderr
    assert "отвечают на один и тот же вопрос (6)" in result.stdout
    pairs = [line for line in result.stdout.splitlines() if line.startswith("  «")]
    assert len(pairs) == 6
    assert any(
        "Как оплачивается работа в выходные дни в командировке?" in line and "ответы 1.00" in line
        for line in pairs
    )


def test_the_demo_faq_has_no_near_duplicates(demo_data_dir):
    result = djinn(demo_data_dir, "kb", "duplicates")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("Похожих записей нет.")


def test_admin_users_and_tokens_from_the_shell(tmp_path):
    data = tmp_path / "data"
    password = "пароль для скрипта 1"
    created = djinn(data, "admin", "create-user", "Editor1", "--role", "editor", stdin=password)
    assert created.returncode == 0, created.stderr
    assert "Пользователь «editor1» создан, роль editor." in created.stdout
    assert password not in created.stdout + created.stderr

    again = djinn(data, "admin", "create-user", "editor1", "--role", "admin", stdin=password)
    assert again.returncode == 1 and "пользователь «editor1» уже есть" in again.stderr
    empty = djinn(data, "admin", "create-user", "boris", "--role", "admin", stdin="")
    assert empty.returncode == 1 and "пароль пуст" in empty.stderr
    weak = djinn(data, "admin", "create-user", "boris", "--role", "admin", stdin="123\n")
    assert weak.returncode == 1 and "пароль короче 10 символов" in weak.stderr
    bad_role = djinn(data, "admin", "create-user", "boris", "--role", "boss", stdin=password)
    assert bad_role.returncode == 2 and "boss" in bad_role.stderr

    issued = djinn(data, "admin", "create-token", "regional-crm", "--role", "editor")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert len(token) >= 43 and "показать ещё раз нельзя" in issued.stderr
    listed = djinn(data, "admin", "tokens")
    assert "regional-crm\teditor\tдействует" in listed.stdout and token not in listed.stdout

    assert djinn(data, "admin", "revoke-token", "regional-crm").returncode == 0
    assert "regional-crm\teditor\tотозван" in djinn(data, "admin", "tokens").stdout
    assert djinn(data, "admin", "users").stdout.splitlines() == ["editor1\teditor"]
