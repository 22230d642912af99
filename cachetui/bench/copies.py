"""Where each run of a benchmark works: a fresh copy of the same database. For SQLite, a
copy of a template file (``--db``, or ``--keys`` seeded profiles) in the benchmark's
temporary folder; for a PostgreSQL server, a fresh schema of its own seeded with
``--keys`` profiles and dropped when the run ends (:mod:`cachetui.engine.database.run_schemas`).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from cachetui.engine import DatabaseUnavailable, Engine, EngineConfig
from cachetui.engine.database import run_schemas
from cachetui.engine.fleet.registry import forget_registrations


class RunCopies(Protocol):
    """Fresh copies of one database, one per run."""

    async def prepare(self) -> int:
        """Ready the first copy to be made; the number of profiles each copy holds."""
        ...

    async def fresh(self, name: str) -> dict[str, Any]:
        """A new copy for the run ``name``: the EngineConfig fields that name it."""
        ...

    async def release(self, where: dict[str, Any]) -> None:
        """Throw the copy ``where`` away."""
        ...


def run_copies(args: argparse.Namespace, folder: Path) -> RunCopies:
    """Schemas over a PostgreSQL ``--db``, else copies of a file in ``folder``."""
    if args.db and "://" in args.db:
        return SchemaCopies(args)
    return FileCopies(args, folder)


class FileCopies:
    """``folder/template.db``: a copy of ``--db``, or ``--keys`` seeded profiles; every
    run works on a copy ``folder/NAME.db`` of it."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.template = folder / "template.db"

    async def prepare(self) -> int:
        """Raises DatabaseUnavailable naming the user's ``--db``."""
        args, template = self.args, self.template
        if args.db:
            # Errors name the user's file, not this copy of it.
            try:
                shutil.copyfile(args.db, template)
                forget_registrations(str(template))  # its instances do not run here
            except OSError as exc:
                reason = (exc.strerror or str(exc)).lower()
                raise DatabaseUnavailable(f"--db {args.db}: cannot copy it: {reason}") from None
            try:
                async with Engine(EngineConfig(db_path=str(template))):
                    pass  # opened once: a file of another program is refused here
            except DatabaseUnavailable as exc:
                raise DatabaseUnavailable(f"--db {args.db}: {exc.__cause__ or exc}") from None
        else:
            async with Engine(EngineConfig(db_path=str(template))) as engine:
                await engine.seed(args.keys)
        with sqlite3.connect(template) as db:
            profiles = int(db.execute("SELECT COUNT(*) FROM profiles").fetchone()[0])
        db.close()
        return profiles

    async def fresh(self, name: str) -> dict[str, Any]:
        db = self.folder / f"{name}.db"
        shutil.copyfile(self.template, db)
        return {"db_path": str(db)}

    async def release(self, where: dict[str, Any]) -> None:
        """Nothing: the folder goes at the end."""


class SchemaCopies:
    """A schema of its own for every run in the PostgreSQL database ``--db``, seeded with
    ``--keys`` profiles (COPY), dropped by :meth:`release`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.url: str = args.db
        self.timeout: float = args.db_timeout
        self.schemas: dict[str, str] = {}  # a run's URL → its schema

    async def prepare(self) -> int:
        """Drop the schemas of this host's benchmarks that died before dropping theirs."""
        await run_schemas.drop_leftovers(self.url, self.timeout)
        return int(self.args.keys)

    async def fresh(self, name: str) -> dict[str, Any]:
        schema = await run_schemas.create_schema(self.url, self.timeout)
        url = run_schemas.schema_url(self.url, schema)
        self.schemas[url] = schema
        try:  # seeded without the link: the run measures the workload, not the seeding
            config = EngineConfig(db_url=url, db_pool=1, db_timeout=self.timeout)
            async with Engine(config) as engine:
                await engine.seed(self.args.keys)
        except BaseException:
            await self.release({"db_url": url})
            raise
        return {"db_url": url}

    async def release(self, where: dict[str, Any]) -> None:
        schema = self.schemas.pop(where["db_url"], None)
        if schema is not None:
            await run_schemas.drop_schemas(self.url, [schema], self.timeout)
