"""Keys that act on the engine take effect in the order they were typed.

Each such key takes a turn (:class:`KeyOrder`): its action starts once every key typed
before it has taken effect. ``U`` then ``c`` pressed together: the burst's 100 updates are
acknowledged, then the crash runs (and reports them lost); ``o`` then ``f``: the outage
is on before the flush tries. A key has taken effect when its action has finished —
or, for updates waiting for room in a full write-behind queue, once they wait: the queue
fills up when the database does not take writes, and the key that cures that (``o``,
``f``) must not wait behind them (:func:`wait_settled`).

Dialogs open at once (what is typed after ``g`` goes into its dialog); what they do to
the engine afterwards (the read after ``g``) takes a turn like a key.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Collection
from contextvars import ContextVar
from typing import Any, Concatenate, ParamSpec, TypeVar

from cachetui.engine import Engine, Event, EventKind
from cachetui.engine.history.callers import set_caller

_Self = TypeVar("_Self")
_P = ParamSpec("_P")

#: After the engine reported backpressure, this long without any call of a key finishing
#: means the rest wait for room in the queue: the key has taken effect, they keep waiting
#: (the scenario runner's rule for a step, see :mod:`cachetui.scenarios.runner`).
STALL_SECONDS = 0.2


class KeyTurn:
    """One key's place in the order: :meth:`wait` for the keys before it, :meth:`release`
    once it has taken effect (at the latest when its action ends)."""

    def __init__(self, previous: asyncio.Future[None] | None) -> None:
        self._previous = previous
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        if self._previous is not None and not self._previous.done():
            # not `await previous`: cancelling this key must not cancel the one before
            await asyncio.wait([self._previous])

    def release(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


#: The turn of the key whose action runs in this task (None outside one).
current_turn: ContextVar[KeyTurn | None] = ContextVar("current_turn", default=None)


class KeyOrder:
    """The chain of turns: each new turn waits for the one taken before it."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    @property
    def idle(self) -> bool:
        """Every key typed so far has taken effect."""
        return self._last is None or self._last.done()

    def take_turn(self) -> KeyTurn:
        turn = KeyTurn(self._last)
        self._last = turn.done
        return turn

    async def drained(self) -> None:
        """Return once every key typed so far has taken effect."""
        last = self._last
        if last is not None and not last.done():
            await asyncio.wait([last])


def in_order(
    method: Callable[Concatenate[_Self, _P], Awaitable[None] | None],
) -> Callable[Concatenate[_Self, _P], None]:
    """An action of the app that acts on the engine: it runs after the keys typed before
    it have taken effect. A coroutine runs as a worker (group ``keys``); a plain method
    runs at once when nothing is waiting, else in a worker when its turn comes."""
    is_coroutine = inspect.iscoroutinefunction(method)

    def action(self: _Self, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        order: KeyOrder = self.key_order  # type: ignore[attr-defined]
        if not is_coroutine and order.idle:
            method(self, *args, **kwargs)
            return
        turn = order.take_turn()

        async def run() -> None:
            current_turn.set(turn)
            set_caller("keyboard")  # the history's name for what the keys do
            try:
                await turn.wait()
                result = method(self, *args, **kwargs)
                if inspect.isawaitable(result):
                    await result
            finally:
                turn.release()

        self.run_worker(run(), group="keys", name=method.__name__)  # type: ignore[attr-defined]

    functools.update_wrapper(action, method)
    return action


async def wait_settled(engine: Engine, tasks: Collection[asyncio.Task[Any]]) -> None:
    """Wait for ``tasks`` (a key's engine calls). Once the engine has pushed back and none
    of them finished for :data:`STALL_SECONDS`, the key has taken effect (the keys after
    it may run, one of which may let the queue drain); the rest are waited for still.
    Cancelled: the calls are cancelled too."""
    pushed_back = False

    def on_event(event: Event) -> None:
        nonlocal pushed_back
        if event.kind is EventKind.BACKPRESSURE:
            pushed_back = True

    loop = asyncio.get_running_loop()
    unsubscribe = engine.subscribe(on_event)
    try:
        moved = loop.time()
        pending = set(tasks)
        while pending:
            finished, pending = await asyncio.wait(
                pending, timeout=STALL_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if finished:
                moved = loop.time()
            elif pushed_back and loop.time() - moved >= STALL_SECONDS:
                break
        turn = current_turn.get()
        if turn is not None:
            turn.release()
        if pending:
            await asyncio.wait(pending)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        raise
    finally:
        unsubscribe()
