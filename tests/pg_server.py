"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, started on
a Unix socket there (no TCP port), stopped and removed at the end.

Used two ways:
- `.ci/run` starts one for the whole run (`python tests/pg_server.py start DIR` prints
  the URL to put in CRM_TEST_PG_URL; `python tests/pg_server.py stop DIR` at exit);
- tests/conftest.py starts one per test session when CRM_TEST_PG_URL is not set and the
  server binaries are on this machine, and says why the PostgreSQL tests skip when not.

initdb refuses to run as root: as root the cluster belongs to the `postgres` user.

Logins are trusted (no password), except for one role, PASSWORD_ROLE, which must give
its password (scram-sha-256): the tests of a wrong password log in as it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

SERVER_OPTIONS = ("-c listen_addresses='' -c fsync=off -c full_page_writes=off "
                  "-c synchronous_commit=off -c max_connections=200 -c shared_buffers=64MB")


PASSWORD_ROLE = "crm_password_probe"
PASSWORD_HBA = (f"local all {PASSWORD_ROLE} scram-sha-256\n"
                f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n")


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("pg_ctl")
    candidates = ([str(Path(found).parent)] if found else []) + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start(folder: str | os.PathLike) -> str:
    """Start a cluster in folder (created); returns the URL of its `postgres` database."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                              "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
    hba = data / "pg_hba.conf"
    hba.write_text(PASSWORD_HBA + hba.read_text())
    subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l",
                              str(folder / "server.log"), "-o",
                              f"-k {folder} {SERVER_OPTIONS}", "start"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
    return f"postgresql:///postgres?host={folder}&user=postgres"


def stop(folder: str | os.PathLike) -> None:
    bin_dir = binaries()
    data = Path(folder) / "data"
    if bin_dir is not None and data.exists():
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                  "stop"]), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd="/")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    verb, where = sys.argv[1], sys.argv[2]
    if verb == "start":
        print(start(where))
    else:
        stop(where)
