"""``djinn admin``: users and API tokens of the web admin, from the shell, so that a
deployment can be scripted. A password is read from standard input (typed twice at a
terminal, the first line of a pipe), never from the command line, where other users of
the machine and the shell history would see it."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from admin.accounts import AccountError, Accounts
from bots.app import open_database
from core.domain import AdminRole
from core.models import as_utc, utcnow
from core.settings import Settings

T = TypeVar("T")
ROLES = click.Choice([r.value for r in AdminRole])
SHELL = "shell"


def _run(settings: Settings, action: Callable[[Accounts], Awaitable[T]]) -> T:
    async def go() -> T:
        async with open_database(settings) as (_, sessions):
            return await action(Accounts(sessions))

    try:
        return asyncio.run(go())
    except AccountError as error:
        raise click.ClickException(str(error)) from None


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Пароль: ")
        if getpass.getpass("Ещё раз: ") != first:
            raise click.ClickException("пароли не совпадают")
        return first
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise click.ClickException("пароль пуст: передайте его первой строкой стандартного ввода")
    return password


@click.group(invoke_without_command=True)
@click.option("--host", default=None, help="адрес (по умолчанию DJINN_ADMIN_HOST, 127.0.0.1)")
@click.option("--port", type=int, default=None, help="порт (по умолчанию DJINN_ADMIN_PORT, 8080)")
@click.pass_context
def admin(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Веб-админка: без команды — запустить её; команды — пользователи и API-токены."""
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    host = host or settings.admin_host
    port = settings.admin_port if port is None else port
    if not 0 < port < 65536:
        raise click.UsageError("порт веб-интерфейса — от 1 до 65535")
    asyncio.run(_serve(settings, host, port))


async def _serve(settings: Settings, host: str, port: int) -> None:
    import signal

    from admin.server import serve_admin, standalone_context

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with standalone_context(settings) as context:
        if not await context.accounts.users():
            click.echo(
                "Пользователей ещё нет: создайте администратора командой "
                "djinn admin create-user LOGIN --role admin"
            )
        click.echo(f"Веб-интерфейс: http://{host}:{port}/login (остановить: Ctrl+C).")
        if settings.metrics_port:
            click.echo(
                f"Метрики Prometheus: http://{settings.metrics_host}:{settings.metrics_port}"
                "/metrics (выключить: DJINN_METRICS_PORT=0)."
            )
        try:
            await serve_admin(context, host, port, stop)
        except OSError as error:
            raise click.ClickException(
                f"веб-интерфейс не запущен: {host}:{port} — {error}"
            ) from None
    click.echo("Веб-интерфейс остановлен.")


@admin.command("create-user")
@click.argument("login")
@click.option("--role", type=ROLES, required=True, help="admin, editor, supervisor или operator")
@click.pass_obj
def create_user(settings: Settings, login: str, role: str) -> None:
    """Создать пользователя LOGIN; пароль читается со стандартного ввода."""
    password = _read_password()
    _run(settings, lambda accounts: accounts.create_user(login, password, role, actor=SHELL))
    click.echo(f"Пользователь «{login.strip().lower()}» создан, роль {role}.")


@admin.command("set-password")
@click.argument("login")
@click.pass_obj
def set_password(settings: Settings, login: str) -> None:
    """Сменить пароль LOGIN (со стандартного ввода), снять блокировку, закрыть его сеансы."""
    password = _read_password()
    _run(settings, lambda accounts: accounts.set_password(login, password, actor=SHELL))
    click.echo(f"Пароль пользователя «{login.strip().lower()}» изменён.")


@admin.command("disable-user")
@click.argument("login")
@click.option("--enable", is_flag=True, help="снова разрешить вход")
@click.pass_obj
def disable_user(settings: Settings, login: str, enable: bool) -> None:
    """Запретить пользователю LOGIN вход (его сеансы закрываются) или, с --enable, разрешить."""
    _run(settings, lambda accounts: accounts.set_disabled(login, not enable, actor=SHELL))
    click.echo(f"Вход пользователю «{login}» {'разрешён' if enable else 'запрещён'}.")


@admin.command("users")
@click.pass_obj
def users(settings: Settings) -> None:
    """Показать пользователей."""
    rows = _run(settings, lambda accounts: accounts.users())
    if not rows:
        click.echo("Пользователей нет. Создать: djinn admin create-user ЛОГИН --role admin")
    for user in rows:
        state = "вход запрещён" if user.disabled_at else ""
        until = as_utc(user.locked_until) if user.locked_until else None
        if until and until > utcnow() and not user.disabled_at:
            state = f"заблокирован до {until:%Y-%m-%d %H:%M} UTC"
        click.echo(f"{user.login}\t{user.role}\t{state}".rstrip())


@admin.command("create-token")
@click.argument("name")
@click.option("--role", type=ROLES, required=True, help="admin, editor, supervisor или operator")
@click.pass_obj
def create_token(settings: Settings, name: str, role: str) -> None:
    """Выпустить API-токен NAME для другой системы; токен печатается один раз."""
    token = _run(settings, lambda accounts: accounts.create_token(name, role, actor=SHELL))
    click.echo(token)
    click.echo(
        f"Токен «{name}» (роль {role}) выпущен. Сохраните его: показать ещё раз нельзя, "
        "можно только отозвать (djinn admin revoke-token).",
        err=True,
    )


@admin.command("revoke-token")
@click.argument("name")
@click.pass_obj
def revoke_token(settings: Settings, name: str) -> None:
    """Отозвать API-токен NAME."""
    _run(settings, lambda accounts: accounts.revoke_token(name, actor=SHELL))
    click.echo(f"Токен «{name}» отозван.")


@admin.command("tokens")
@click.pass_obj
def tokens(settings: Settings) -> None:
    """Показать API-токены (без самих токенов)."""
    rows = _run(settings, lambda accounts: accounts.tokens())
    if not rows:
        click.echo("Токенов нет. Выпустить: djinn admin create-token ИМЯ --role editor")
    for row in rows:
        state = f"отозван {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "действует"
        click.echo(f"{row.name}\t{row.role}\t{state}")
