"""The PostgreSQL backend: the profiles in a PostgreSQL database, through psycopg 3
(async) and a psycopg_pool connection pool; its SQL is in
:mod:`cachetui.engine.database.postgres_statements`.

The same tables and the same semantics as SQLite (the version guard, write ids, the
trigger that recognises other programs' writes, dead letters, the lab's rejection
trigger); a batch is one statement over arrays, one round trip. libpq's conventions pass
through the URL (``sslmode``, ``PG*`` variables, socket hosts, ``options=-c…``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from functools import partial
from typing import Any

import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from cachetui.engine.database import postgres_statements as sql
from cachetui.engine.database.base import (
    Database,
    RowConflict,
    RowFailure,
    RowLanded,
    RowRejected,
    builds_on,
)
from cachetui.engine.database.giving_up import GivingUp
from cachetui.engine.database.postgres_conninfo import conninfo
from cachetui.engine.database.postgres_errors import (
    connect_failure,
    message,
    open_problem,
    row_permanent,
    server_words,
    unavailable,
)
from cachetui.engine.database.postgres_schema import prepare
from cachetui.engine.database.postgres_seeding import copy_demo_profiles, upsert_as_given
from cachetui.engine.database.postgres_sessions import (
    check_idle,
    end_session,
    outcome_unknown,
    reply_within,
)
from cachetui.engine.database.postgres_waits import PoolWaits
from cachetui.engine.errors import DatabaseUnavailable, OutcomeUnknown, WriteRejected
from cachetui.engine.lab.faults import Faults
from cachetui.engine.profile import Profile
from cachetui.engine.queue.dead_letters import DeadLetter
from cachetui.engine.stores.redis_url import mask_url

POSTGRES_SCHEMES = ("postgresql", "postgres")
Connection = psycopg.AsyncConnection[Any]


def is_postgres_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in url


class PostgresDatabase(Database):
    """The profiles in a PostgreSQL database (see the module's docstring)."""

    def __init__(
        self, url: str, faults: Faults | None = None, *, pool: int = 10, timeout: float = 10.0
    ) -> None:
        self.url = url
        #: The server's URL as given (``url`` may be a link's relay in front of it).
        self.server_url = url
        self.path = mask_url(url)
        self.faults = faults or Faults()
        self.database_id = ""
        #: What the header shows: "PostgreSQL 15.10 at HOST:PORT/DBNAME" (set at open).
        self.description = f"PostgreSQL at {self.path}"
        self.pool_size = pool
        # Batches in flight at once: the server works on one while the next is built,
        # and commits share their WAL flushes; half the pool is left to callers.
        self.write_streams = max(1, min(4, pool // 2))
        self.timeout = timeout
        #: How long a reply may take (a partition holds it for ever): --db-timeout, plus
        #: up to 1 s for the server's own statement timeout to answer first.
        self.reply_timeout = timeout + min(timeout, 1.0)
        self._pool: AsyncConnectionPool | None = None
        #: When calls stop waiting on the server (a close giving up).
        self.giving_up = GivingUp()
        #: The waits for a pooled connection (cut short by a refused connection).
        self.waits = PoolWaits(timeout, self.giving_up)
        self._dsn = ""  # the conninfo the pool connects with (set at open)
        self._recorded = 0

    # -- lifetime --------------------------------------------------------------------------
    def _conninfo(self, url: str = "") -> str:
        """``url`` (else the one connected to) as cachetui connects (:func:`conninfo`)."""
        return conninfo(url or self.url, self.timeout)

    async def open(self) -> None:
        try:
            conninfo = self._conninfo()
        except psycopg.ProgrammingError as exc:
            raise DatabaseUnavailable(
                f"invalid PostgreSQL URL {self.path}: {self._words(message(exc))}"
            ) from None
        try:  # one plain connection first: its error says what is wrong
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                async with reply_within(conn, self.reply_timeout * 3):
                    self.database_id = await prepare(conn, self.path)
                version = conn.info.server_version
                # where libpq connected (the URL, or PG* variables; no database named:
                # PGDATABASE, else the user name), the server's address through a link
                where = self._words(f"{conn.info.host}:{conn.info.port}") + "/"
                where += conn.info.dbname
        except DatabaseUnavailable:
            raise
        except (psycopg.Error, OSError) as exc:
            raise await self._cannot_open(exc) from None
        self.description = f"PostgreSQL {version // 10000}.{version % 10000} at {where}"
        self._dsn = conninfo
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=self.pool_size,
            timeout=self.timeout,
            kwargs={"autocommit": True},
            check=check_idle,  # a connection the server ended while idle is replaced
            connection_class=self.waits.connection_class(),
            open=False,
        )
        try:
            await self._pool.open(wait=True, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - worded, the pool closed
            await self.close()
            raise await self._cannot_open(exc) from None

    async def _cannot_open(self, exc: BaseException) -> DatabaseUnavailable:
        server = (self.server_url, self._conninfo(self.server_url))
        problem = await open_problem(exc, self.url, server, self.timeout)
        return DatabaseUnavailable(f"cannot open database {self.path}: {problem}")

    def _words(self, text: str) -> str:
        """A driver's or server's ``text`` safe to show, naming the server the user gave."""
        return server_words(text, self.url, self.server_url)

    def _unavailable(self, exc: BaseException, where: str) -> DatabaseUnavailable:
        return unavailable(exc, where, self._words)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:  # its workers may be connecting: waited for up to 5 s
            await pool.close(timeout=self.giving_up.remaining(5.0))

    @contextlib.asynccontextmanager
    async def pooled(self, where: str, replies: int) -> AsyncIterator[Connection]:
        """A pooled connection for the fleet's registry (same deadlines, errors classified)."""
        try:
            async with self._session(replies=replies) as conn:
                yield conn
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc, where) from exc

    @contextlib.asynccontextmanager
    async def _session(
        self, *, writing: bool = False, replies: int = 1
    ) -> AsyncIterator[Connection]:
        """A pooled connection whose ``replies`` replies must come within
        ``reply_timeout`` each (:func:`reply_within`); no wait beyond the give-up moment
        (:meth:`give_up`). ``writing``: an error after which the commit may have landed
        raises :class:`OutcomeUnknown` naming the session (its backend's pid)."""
        async with contextlib.AsyncExitStack() as stack:
            conn = await self._connection(stack, "writing" if writing else "reading")
            pid = conn.info.backend_pid
            try:
                async with reply_within(conn, self.reply_timeout * replies, self.giving_up):
                    yield conn
            except Exception as exc:
                if writing and outcome_unknown(exc):
                    raise OutcomeUnknown(
                        f"{self._unavailable(exc, 'writing')}: the reply to a commit was lost, "
                        "it may have landed",
                        session=pid,
                    ) from exc
                raise

    async def _connection(self, stack: contextlib.AsyncExitStack, where: str) -> Connection:
        """A connection of the pool: :meth:`PoolWaits.connection`."""
        busy = partial(unavailable, PoolTimeout(), words=self._words)
        return await self.waits.connection(self._require(), stack, where, self._problem, busy)

    async def _problem(self, where: str, seconds: float) -> DatabaseUnavailable | None:
        """Why no connection: one tried now (None if it opened)."""
        server = (self.server_url, self._conninfo(self.server_url))
        return await connect_failure(self._dsn, self.url, where, seconds, server)

    def give_up(self, seconds: float | None) -> None:
        """No call waits on the server beyond ``seconds`` from now (None: as before)."""
        self.giving_up.set(seconds)

    def _require(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise DatabaseUnavailable(f"database {self.path} is not open")
        return self._pool

    async def _run(self, where: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """One statement on a pooled connection; its rows ([] for none)."""
        try:
            async with self._session() as conn:
                cur = await conn.execute(statement.encode(), params)
                # the result's status, not cur.description (which builds a Column per column)
                result = cur.pgresult
                rows = result is not None and result.status == pq.ExecStatus.TUPLES_OK
                return await cur.fetchall() if rows else []
        except DatabaseUnavailable:
            raise
        except (psycopg.Error, OSError) as exc:
            if row_permanent(exc):
                raise WriteRejected(0, 0, message(exc)) from exc
            raise self._unavailable(exc, where) from exc
        except Exception as exc:  # PoolTimeout is not a psycopg.Error
            raise self._unavailable(exc, where) from exc

    # -- the engine's calls (faults apply) -----------------------------------------------
    async def fetch_many(self, user_ids: Sequence[int]) -> dict[int, Profile]:
        await self.faults.before_db_call()
        if len(user_ids) == 1:
            rows = await self._run("reading", sql.SELECT_ONE, (user_ids[0],))
        else:
            rows = await self._run("reading", sql.SELECT_MANY, (list(user_ids),))
        return {row[0]: Profile(*row) for row in rows}

    async def write(
        self, rows: Sequence[tuple[Profile, int]], *, record: bool = False
    ) -> dict[int, RowFailure]:
        """The guarded write of a batch in one statement (see GUARDED_BATCH); if the
        database refuses one of its rows, the rows are written one by one, each in a
        savepoint of one transaction, so the refused ones fail alone."""
        await self.faults.before_db_call()
        if not rows:
            return {}
        return await self._guarded(rows, record)

    async def _guarded(
        self, rows: Sequence[tuple[Profile, int]], record: bool
    ) -> dict[int, RowFailure]:
        statement, params = sql.guarded_write(rows, record)
        by_user = {p.user_id: p for p, _ in rows}
        try:
            async with self._session(writing=True) as conn:
                cur = await conn.execute(statement, params)
                answers = await cur.fetchall()
        except (psycopg.Error, OSError) as exc:
            if not row_permanent(exc):
                raise self._unavailable(exc, "writing") from exc
            return await self._write_one_by_one(rows, record)
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - PoolTimeout, a value psycopg cannot send
            raise self._unavailable(exc, "writing") from exc
        failures: dict[int, RowFailure] = {}
        again: list[tuple[Profile, int]] = []
        for uid, version, write_id, recorded in answers:  # the rows not written
            if version is not None and builds_on(by_user[uid], write_id, int(version)):
                again.append((by_user[uid], int(version)))  # on our own earlier write
                continue
            failures[uid] = self._not_written(by_user[uid], version, write_id, recorded)
        await self._count_landings(len(rows) - len(failures) - len(again), record)
        if again:
            failures.update(await self._guarded(again, record))
        return failures

    @staticmethod
    def _not_written(
        profile: Profile, version: int | None, write_id: str | None, recorded: bool
    ) -> RowFailure:
        if profile.write_id is not None and (write_id == profile.write_id or recorded):
            return RowLanded()
        return RowConflict(None if version is None else int(version))

    async def _write_one_by_one(
        self, rows: Sequence[tuple[Profile, int]], record: bool
    ) -> dict[int, RowFailure]:
        failures: dict[int, RowFailure] = {}
        try:
            async with (
                self._session(writing=True, replies=3 * len(rows) + 2) as conn,
                conn.transaction(),
            ):
                for profile, base in rows:
                    params = {**profile._asdict(), "base": base}
                    try:
                        async with conn.transaction():  # a savepoint
                            cur = await conn.execute(sql.GUARDED_ONE, params)
                            written = await cur.fetchone()
                            if written and written[0] and record and profile.write_id:
                                await conn.execute(
                                    sql.RECORD_LANDING,
                                    (
                                        profile.write_id,
                                        profile.user_id,
                                        profile.version,
                                        profile.updated_at,
                                    ),
                                )
                    except psycopg.Error as exc:
                        if not row_permanent(exc):
                            raise
                        failures[profile.user_id] = RowRejected(message(exc))
                        continue
                    if written and written[0]:
                        continue
                    cur = await conn.execute(sql.ROW_STATE, (profile.write_id, profile.user_id))
                    state = await cur.fetchone()
                    version, write_id, recorded = state if state else (None, None, False)
                    failures[profile.user_id] = self._not_written(
                        profile, version, write_id, bool(recorded)
                    )
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc, "writing") from exc
        await self._count_landings(len(rows) - len(failures), record)
        return failures

    async def _count_landings(self, landed: int, record: bool) -> None:
        if not record:
            return
        self._recorded += landed
        if self._recorded >= 10_000:
            self._recorded = 0
            await self._run("pruning landed_writes", sql.PRUNE_LANDINGS, (sql.LANDINGS_KEPT,))

    async def landed(self, writes: Sequence[tuple[int, str]]) -> set[str]:
        if not writes:
            return set()
        await self.faults.before_db_call()
        params = {"ids": [w for _, w in writes], "users": [u for u, _ in writes]}
        return {str(w) for (w,) in await self._run("reading landings", sql.LANDED, params)}

    async def end_session(self, session: object) -> None:
        """End the server session (backend pid) a commit of unknown outcome was sent on."""
        if isinstance(session, int) and session > 0:
            await self.faults.before_db_call()
            await end_session(self._run, session, self.reply_timeout)

    async def external_update(
        self, user_id: int, changes: dict[str, Any], updated_at: str
    ) -> Profile | None:
        """Another program's write: an UPDATE of the changed fields only (the trigger
        raises the version and clears the write id), the row returned."""
        await self.faults.before_db_call()
        # The field names come from validate_changes: only UPDATABLE_FIELDS reach here.
        sets = ", ".join(f"{field} = %s" for field in changes)
        statement = (
            f"UPDATE profiles SET {sets}, updated_at = %s WHERE user_id = %s "
            f"RETURNING {sql.COLUMNS}"
        )
        try:
            rows = await self._run("writing", statement, (*changes.values(), updated_at, user_id))
        except WriteRejected as exc:
            raise WriteRejected(user_id, 0, exc.reason) from exc
        return Profile(*rows[0]) if rows else None

    async def load_dead_letters(self) -> list[DeadLetter]:
        rows = await self._run(
            "reading dead letters", f"SELECT {sql.DEAD_LETTER_COLUMNS} FROM dead_letters"
        )
        return [DeadLetter.from_row(tuple(row)) for row in rows]

    async def save_dead_letters(
        self, letters: Sequence[DeadLetter], deleted: Sequence[int]
    ) -> None:
        await self.faults.before_db_call()
        try:
            async with (
                self._session() as conn,
                conn.transaction(),
                conn.cursor() as cur,
            ):
                if letters:
                    await cur.executemany(sql.SAVE_DEAD_LETTER, [d.as_row() for d in letters])
                if deleted:
                    await cur.execute(
                        "DELETE FROM dead_letters WHERE user_id = ANY(%s)", (list(deleted),)
                    )
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc, "saving dead letters") from exc

    async def set_lab_rejection(self, user_id: int, reject: bool) -> None:
        await self._transaction("installing a lab trigger", sql.lab_trigger_sql(user_id, reject))

    async def drop_lab_triggers(self) -> list[str]:
        names = [str(n) for (n,) in await self._run("listing lab triggers", sql.LAB_TRIGGERS)]
        statements = [
            s for name in names for s in sql.lab_trigger_sql(int(name.rsplit("_", 1)[1]), False)
        ]
        if statements:
            await self._transaction("dropping lab triggers", statements)
        return names

    async def _transaction(self, where: str, statements: Iterable[str]) -> None:
        try:
            async with self._session() as conn, conn.transaction():
                for statement in statements:
                    await conn.execute(statement.encode())
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc, where) from exc

    # -- setup and the observer's view (no faults) -----------------------------------------
    async def restore(self, profiles: Sequence[Profile]) -> None:
        """Upsert rows exactly as given: the transaction is marked so that the
        foreign-write trigger leaves it alone."""
        try:
            async with self._session(replies=2) as conn:
                await upsert_as_given(conn, profiles)
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc, "restoring rows") from exc

    async def seed(
        self,
        count: int,
        updated_at: str,
        seed: int = 42,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Insert demo profiles 1..count if the table is empty (COPY, one transaction);
        ``progress(rows so far)`` every 20,000 rows. Cancelled: rolled back."""
        try:
            async with self._session(replies=3) as conn:
                return await copy_demo_profiles(conn, count, updated_at, seed, progress)
        except (psycopg.Error, OSError) as exc:
            raise self._unavailable(exc, "seeding") from exc

    async def count(self) -> int:
        rows = await self._run("counting", "SELECT count(*) FROM profiles")
        return int(rows[0][0])

    async def max_user_id(self) -> int:
        rows = await self._run("reading", "SELECT coalesce(max(user_id), 0) FROM profiles")
        return int(rows[0][0])

    async def peek_many(self, user_ids: Iterable[int]) -> dict[int, Profile]:
        rows = await self._run("reading", sql.SELECT_MANY, (list(user_ids),))
        return {row[0]: Profile(*row) for row in rows}

    async def peek_recent(self, limit: int) -> list[Profile]:
        rows = await self._run("reading", sql.RECENT, (limit,))
        return [Profile(*row) for row in rows]
