"""SQLite's writers take turns: a write transaction waits for its turn at a lock on a file
beside the database, which every process's writers share, before it takes SQLite's own
write lock (see ``darwaza.database._QueuedWriterConnection``)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from darwaza.database import WRITERS_LOCK_SUFFIX, build_engine

# Another process that holds the writers' turn until it reads a line.
HOLD_THE_TURN = """
import sys, filelock
turn = filelock.FileLock(sys.argv[1])
turn.acquire()
print("holding", flush=True)
sys.stdin.readline()
turn.release()
"""


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "writers.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE letters (body TEXT)")
    return path


@contextmanager
def _another_process_holding_the_turn(database: Path) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_TURN, f"{database}{WRITERS_LOCK_SUFFIX}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
            yield holder
        finally:
            if holder.poll() is None:
                holder.kill()


@pytest.fixture
def another_process_holds_the_turn(database: Path) -> Iterator[subprocess.Popen[str]]:
    with _another_process_holding_the_turn(database) as holder:
        yield holder


def _let_go(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("done\n")
    holder.stdin.flush()
    holder.wait(timeout=10)


def _letters(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [body for (body,) in connection.execute("SELECT body FROM letters")]


def _write(engine: Engine, body: str) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO letters VALUES (?)", (body,))


def _writing_in_a_thread(engine: Engine, body: str) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def write() -> None:
        try:
            _write(engine, body)
        except BaseException as error:
            failures.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    return writer, failures


def test_a_writer_waits_for_the_turn_another_process_holds_then_writes(
    database: Path, another_process_holds_the_turn: subprocess.Popen[str]
) -> None:
    engine = build_engine(f"sqlite:///{database}")
    writer, failures = _writing_in_a_thread(engine, "queued")
    # SQLite's own lock is free: without the turn the write would be done at once.
    writer.join(timeout=1.0)
    assert writer.is_alive(), "the write did not wait for its turn"
    assert _letters(database) == []
    _let_go(another_process_holds_the_turn)
    writer.join(timeout=10)
    assert not writer.is_alive() and failures == []
    assert _letters(database) == ["queued"]
    engine.dispose()


def test_a_writer_whose_turn_does_not_come_is_told_the_database_is_locked(
    database: Path, another_process_holds_the_turn: subprocess.Popen[str]
) -> None:
    engine = build_engine(f"sqlite:///{database}", lock_wait_seconds=0.3)
    with pytest.raises(OperationalError, match="database is locked"):
        _write(engine, "too late")
    assert _letters(database) == []
    # The refused writer holds nothing: once the other process lets go, it writes.
    _let_go(another_process_holds_the_turn)
    _write(engine, "in time")
    assert _letters(database) == ["in time"]
    engine.dispose()


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_the_turn_passes_on_when_a_write_transaction_ends(database: Path, ending: str) -> None:
    first, second = build_engine(f"sqlite:///{database}"), build_engine(f"sqlite:///{database}")
    with first.connect() as connection:
        transaction = connection.begin()
        connection.exec_driver_sql("INSERT INTO letters VALUES ('first')")
        waiting, failures = _writing_in_a_thread(second, "second")
        waiting.join(timeout=0.5)
        assert waiting.is_alive(), "two write transactions ran at once"
        getattr(transaction, ending)()
        waiting.join(timeout=10)
        assert not waiting.is_alive() and failures == []
    expected = ["first", "second"] if ending == "commit" else ["second"]
    assert _letters(database) == expected
    first.dispose()
    second.dispose()


def test_a_reader_does_not_wait_for_the_writers_turn(database: Path) -> None:
    _write(build_engine(f"sqlite:///{database}"), "written")
    with _another_process_holding_the_turn(database) as holder:
        reader = build_engine(f"sqlite:///{database}", immediate=False, lock_wait_seconds=0.3)
        with reader.begin() as connection:
            letters = connection.exec_driver_sql("SELECT body FROM letters").scalars().all()
        assert letters == ["written"]
        reader.dispose()
        _let_go(holder)


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_turns_file_is_the_owners_alone_and_let_go_with_the_connection(
    database: Path,
) -> None:
    before = _open_descriptors()
    engine = build_engine(f"sqlite:///{database}")
    _write(engine, "written")
    turns = Path(f"{database}{WRITERS_LOCK_SUFFIX}")
    # Whoever can open the file can hold every writer's turn: no one else may.
    assert stat.S_IMODE(turns.stat().st_mode) == 0o600
    engine.dispose()
    assert _open_descriptors() == before


def test_a_turns_file_left_open_to_others_is_closed_to_them(database: Path) -> None:
    turns = Path(f"{database}{WRITERS_LOCK_SUFFIX}")
    turns.touch(mode=0o644)
    turns.chmod(0o644)
    engine = build_engine(f"sqlite:///{database}")
    _write(engine, "written")
    assert stat.S_IMODE(turns.stat().st_mode) == 0o600
    assert _letters(database) == ["written"]
    engine.dispose()
