"""Lease holders and database errors: who is known to be dead, what is worth retrying."""

import os

import psutil
import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from core.leases import Worker, is_transient
from tests.factories import dead_worker


def test_a_live_worker_and_oneself_are_not_outlived():
    me = Worker.current()
    parent = psutil.Process(os.getppid())
    assert not me.outlived(me.id)
    assert not me.outlived(Worker.current().id)  # another repository of this process
    assert not me.outlived(Worker(me.host, parent.pid, f"{parent.create_time():.2f}").id)


def test_a_process_that_exited_is_outlived():
    assert Worker.current().outlived(dead_worker().id)


def test_a_pid_reused_by_a_later_process_is_outlived():
    me = Worker.current()
    earlier = Worker(me.host, me.pid, "12.34")  # our pid, another start time
    assert me.outlived(earlier.id)


@pytest.mark.parametrize("holder", ["other-host/1/1.00", "garbage", "host-only/", ""])
def test_holders_that_cannot_be_checked_are_not_outlived(holder):
    assert not Worker.current().outlived(holder)


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("SELECT 1", {}, Exception("database is locked")), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (DataError("INSERT", {}, PgError("22P05")), False),
        (IntegrityError("INSERT", {}, PgError("23505")), False),
        (DataError("INSERT", {}, PgError("57P01")), True),  # admin shutdown
        (RuntimeError("a bug"), False),
    ],
)
def test_only_an_unreachable_or_restarting_database_is_transient(error, transient):
    assert is_transient(error) is transient
