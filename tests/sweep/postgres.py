"""A throwaway PostgreSQL server for the tests, from the binaries of the machine's PostgreSQL install.

`PostgresServer.start()` runs `initdb` into a fresh folder under the system temp dir and `pg_ctl start` on a
free loopback port (as the `postgres` user when the tests run as root: PostgreSQL refuses to run as root);
`stop()` stops it and removes the folder. Each test gets its own database (`create_database`), so tests stay
independent. With SDSSM_TEST_POSTGRES_URL set (a URL whose user may CREATE DATABASE), that server is used
instead and nothing is started.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

PASSWORD = "pg-secret-in-url"  # never checked (trust auth); there so tests can see it is never shown


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<newest>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def unavailable_reason() -> str | None:
    """Why no server can be had here, or None when one can."""
    try:
        import psycopg  # noqa: F401, PLC0415
    except ImportError:
        return "the PostgreSQL driver psycopg is not installed (pip install -e '.[test]')"
    if os.environ.get("SDSSM_TEST_POSTGRES_URL"):
        return None
    if find_bin_dir() is None:
        return ("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; "
                "install them (Debian: apt-get install postgresql) or set SDSSM_TEST_POSTGRES_URL")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no 'postgres' user to run the server as"
    return None


class PostgresServer:
    def __init__(self) -> None:
        self.folder: Path | None = None
        self.base_url = os.environ.get("SDSSM_TEST_POSTGRES_URL", "")
        self._as: dict[str, Any] = {}

    def start(self) -> PostgresServer:
        if self.base_url:
            return self
        bin_dir = find_bin_dir()
        assert bin_dir is not None, unavailable_reason()
        self.folder = Path(tempfile.mkdtemp(prefix="sdssm-pg-"))
        if os.geteuid() == 0:  # the server refuses to run as root
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        port = _free_port()
        data = self.folder / "data"
        self._run(bin_dir / "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(bin_dir / "pg_ctl", "-D", str(data), "-o", options, "-l", str(self.folder / "server.log"),
                  "-w", "-t", "60", "start")
        self._pg_ctl = bin_dir / "pg_ctl"
        self.base_url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
        return self

    def stop(self) -> None:
        if self.folder is None:
            return
        try:
            self._run(self._pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def create_database(self) -> str:
        """A new empty database; its URL (psycopg driver, with a password that is never checked)."""
        import psycopg  # noqa: PLC0415

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self._libpq(self.base_url), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        import psycopg  # noqa: PLC0415

        name = make_url(url).database
        with psycopg.connect(self._libpq(self.base_url), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @staticmethod
    def _libpq(url: str) -> str:
        return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def _run(self, *args: Any) -> None:
        done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                              cwd=self.folder, **self._as)
        if done.returncode != 0:
            log = self.folder / "server.log" if self.folder else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout}\n"
                               f"{done.stderr}\n{tail}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
