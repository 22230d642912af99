"""A throwaway PostgreSQL cluster of the test run's own (``initdb`` into a temporary
folder, scram-sha-256 authentication, a free port, few connections), for what the shared
server must not go through: wrong passwords, a full ``max_connections``, a server that
stops mid-run. Started in about 1.5 s; stopped and removed at the end of the session.

Skipped (with the reason) when no ``initdb`` is installed, except under CI=true, where it
fails: CI must test these.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

#: Connections the cluster takes: one is kept for the admin; ``lab`` gets the others.
MAX_CONNECTIONS = 6
LAB_USER = "lab"


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    preferred = [c for c in candidates if "/15/" in c] + candidates
    return Path(preferred[0]).parent if preferred else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateCluster:
    folder: Path
    bin: Path
    port: int
    password: str  # of both the admin and ``lab``
    run_as: list[str]  # runuser … when the tests run as root (initdb refuses root)

    def url(self, user: str = LAB_USER, password: str | None = None, db: str = LAB_USER) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{db}"

    @property
    def admin_url(self) -> str:
        return self.url("admin", db="postgres")

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            f"-c max_connections={MAX_CONNECTIONS} -c superuser_reserved_connections=1 "
            "-c fsync=off"  # a commit still reaches the kernel: it survives an immediate stop
        )
        self.pg_ctl("-l", str(self.folder / "log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "stop")

    def admin(self, statement: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(statement.encode())
            return cur.fetchall() if cur.description else []


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    folder_bin = _bin_dir()
    if folder_bin is None:
        reason = "no initdb (install postgresql-15) for the private cluster"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires {reason}")
        pytest.skip(reason)
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="cachetui-cluster-"))
    try:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(folder, owner.pw_uid, owner.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        password = secrets.token_hex(12)
        (folder / "pw").write_text(password + "\n")
        if run_as:
            os.chown(folder / "pw", owner.pw_uid, owner.pw_gid)
        subprocess.run(
            [*run_as, str(folder_bin / "initdb"), "-D", str(folder / "data"), "-U", "admin",
             f"--pwfile={folder / 'pw'}", "-A", "scram-sha-256", "-N", "-E", "UTF8",
             "--locale=C"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        cluster = PrivateCluster(folder, folder_bin, _free_port(), password, run_as)
        cluster.start()
        try:
            cluster.admin(f"CREATE ROLE {LAB_USER} LOGIN PASSWORD '{password}'")
            cluster.admin(f"CREATE DATABASE {LAB_USER} OWNER {LAB_USER}")
            yield cluster
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                cluster.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
