"""The steps `make run` takes, as a new user's shell runs them: migrate, demo data twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DARWAZA = str(Path(sys.executable).parent / "darwaza")


def run(*args: str, data_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DARWAZA_")}
    env["DARWAZA_DATA_DIR"] = str(data_dir)
    env["DARWAZA_ENV"] = "development"  # as the Makefile sets it for `make run`
    done = subprocess.run(
        [DARWAZA, *args], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


def test_migrate_and_demo_data_on_a_fresh_data_directory_twice(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert "Database is up to date." in run("db", "upgrade", data_dir=data_dir)
    first = run("demo", data_dir=data_dir)
    assert "hec.officer / demo-hec-officer" in first
    assert "CNIC 35202-1234567-1" in first
    again = run("demo", data_dir=data_dir)
    assert "Demo data: 0 created" in again  # running it twice changes nothing
    assert re.fullmatch(r"\d{6}\n", run("demo-code", "hec.officer", data_dir=data_dir))
    assert (data_dir / "darwaza.db").exists()
