"""Engines for the backend parity tests: a throw-away PostgreSQL cluster and one Spark session.

Both are started once per test session. A test that needs one skips, saying why, only when
the engine cannot start here (no PostgreSQL binaries, no Java, no PySpark).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _pg_bindir() -> Path | None:
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(cand, "initdb").exists() and Path(cand, "pg_ctl").exists():
            return Path(cand)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL cluster on a Unix socket in a temporary folder."""
    pytest.importorskip("ibis", reason="ibis-framework is not installed")
    pytest.importorskip("psycopg", reason="psycopg (ibis-framework[postgres]) is not installed")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
    root = Path(tempfile.mkdtemp(prefix="mmrwe-pg-"))
    data, sock = root / "data", root
    # PostgreSQL refuses to run as root: run the cluster as the 'postgres' system user
    as_user: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as 'postgres'")
        shutil.chown(root, user="postgres")
        os.chmod(root, 0o777)
        as_user = [runuser, "-u", "postgres", "--"]
    port = 54000 + os.getpid() % 1000
    try:
        subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "mmrwe",
             "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
             "-o", f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off", "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start: {exc} {log[-500:]}")
    try:
        yield f"postgresql://mmrwe@localhost:{port}/postgres?host={sock}"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def spark_backend() -> Iterator[object]:
    """One local Spark session (through Ibis) for every Spark test: start-up is slow."""
    pytest.importorskip("ibis", reason="ibis-framework is not installed")
    pytest.importorskip("pyspark", reason="pyspark (ibis-framework[pyspark]) is not installed")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed: Spark local mode needs Java 17")
    from mmrwe.engine import connect

    try:
        backend = connect("spark")
    except Exception as exc:  # the JVM could not start here
        pytest.skip(f"Spark local session could not start: {exc}")
    try:
        yield backend
    finally:
        backend.close()
