"""One browser tab's app process, started without a shell as the leader of its own
process group and never left behind: when its tab goes, the app is asked to quit (quit
message and SIGTERM to its group), then its whole group is killed after
``GRACE_SECONDS``. Its command line carries no secret: what the app needs besides
``argv`` comes in the environment it is given."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import signal
from collections.abc import Mapping, Sequence
from typing import Any

from textual_serve.app_service import AppService

from cachetui.serve.process_groups import PREEXEC, ProcessGroups, signal_group
from cachetui.serve.web_driver import DRIVER

GRACE_SECONDS = 2.0
"""How long a closed tab's app may take to quit (and flush its writes) before SIGKILL."""

log = logging.getLogger("cachetui.serve")


class ReapingAppService(AppService):
    """One app process per browser session, which never outlives :meth:`stop`."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        groups: ProcessGroups,
        grace: float = GRACE_SECONDS,
        environment: Mapping[str, str | None] | None = None,
        **kwargs: Any,
    ) -> None:
        """``environment``: changes to the environment the app inherits (this process's,
        with textual-serve's variables: its driver, the terminal's size): a value sets a
        variable, None removes it."""
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = list(argv)
        self.environment = dict(environment or {})
        self.grace = grace
        self.groups = groups
        self._stopping: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        """textual-serve's with our driver (:mod:`cachetui.serve.web_driver`), changed as
        :attr:`environment` says."""
        environment = super()._build_environment(width=width, height=height)
        environment["TEXTUAL_DRIVER"] = DRIVER
        for key, value in self.environment.items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        """As textual-serve's, but no shell, its own process group, and tracked."""
        process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,
            preexec_fn=PREEXEC,
        )
        self.groups.add(process.pid)
        self._process = process
        if self._stopping is not None:  # stopped while it was starting
            signal_group(process.pid, signal.SIGKILL)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        await super().run()
        if self._stopping is None:
            # The app ended by itself (quit in the browser, or a crash): end the session
            # so that the page says so, and reap the process.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.remote_close(), 2)

    async def stop(self) -> None:
        """Ask the app to quit, kill its process group after the grace period; idempotent.

        Shielded: a cancelled caller does not interrupt the reaping."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        process = self._process
        if process is None:
            return
        pgid = process.pid
        try:
            with contextlib.suppress(Exception):
                await self._download_manager.cancel_app_downloads(
                    app_service_id=self.app_service_id
                )
            if process.returncode is None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.send_meta({"type": "quit"}), 0.5)
                signal_group(pgid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), self.grace)
                except TimeoutError:
                    log.warning("app process %d did not quit in %.1f s: killed", pgid, self.grace)
                    signal_group(pgid, signal.SIGKILL)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(process.wait(), 5)
            # Anything the app started and left behind in its group goes too.
            signal_group(pgid, signal.SIGKILL)
            if self._task is not None:
                try:
                    await asyncio.wait_for(self._task, 2)
                except (TimeoutError, asyncio.CancelledError):
                    self._task.cancel()
                self._task = None
        finally:
            if process.returncode is not None:
                self.groups.discard(pgid)
