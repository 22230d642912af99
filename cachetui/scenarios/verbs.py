"""What each scenario verb does: one table, verb → coroutine.

How a verb is written and what it means for a reader is
:data:`cachetui.scenarios.actions.VERBS`; this is what it does to the engine, through the
run's :class:`~cachetui.scenarios.step_calls.StepState`. A test holds the two tables to
the same verbs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cachetui.engine import CacheTuiError
from cachetui.scenarios.actions import Action
from cachetui.scenarios.distance import set_db_rtt
from cachetui.scenarios.step_calls import StepState

Verb = Callable[[StepState, Action], Awaitable[None]]


async def _policy(step: StepState, action: Action) -> None:
    try:
        await step.engine.set_policy(action.value)
    except CacheTuiError as exc:
        step.failed(exc)


async def _queue(step: StepState, action: Action) -> None:
    try:
        await step.engine.set_queue(action.value)
    except CacheTuiError as exc:
        step.failed(exc)


async def _read(step: StepState, action: Action) -> None:
    await step.calls(action, step.engine.read)


async def _update(step: StepState, action: Action) -> None:
    await step.save_rows(action.users)
    await step.calls(action, step.updater(action))


async def _external(step: StepState, action: Action) -> None:
    await step.save_rows(action.users)
    changes = action.change_dict or {"bio": "Edited by another service"}
    await step.calls(action, lambda user: step.engine.external_update(user, changes))


async def _invalidate(step: StepState, action: Action) -> None:
    await step.calls(action, step.engine.invalidate)


async def _flush(step: StepState, action: Action) -> None:
    await step.flush()


async def _crash(step: StepState, action: Action) -> None:
    step.log.lost.extend(await step.engine.crash())
    step.log.replayed += step.engine.last_crash.replayed


async def _wait(step: StepState, action: Action) -> None:
    await asyncio.sleep(action.value)


async def _follow(step: StepState, action: Action) -> None:
    step.follow = action.users[0]


async def _reject_writes(step: StepState, action: Action) -> None:
    step.rejecting.update(action.users)  # before: a failure half-way is undone too
    await step.each(action.users, step.engine.reject_writes)


async def _accept_writes(step: StepState, action: Action) -> None:
    await step.each(action.users, step.engine.accept_writes)
    step.rejecting.difference_update(action.users)


async def _retry(step: StepState, action: Action) -> None:
    engine = step.engine
    users = action.users or tuple(d.user_id for d in engine.dead_letters())
    await step.save_rows(users)  # a retried letter lands: its row is put back
    await step.each(users if action.users else [None], engine.retry_dead_letters)


async def _discard(step: StepState, action: Action) -> None:
    await step.each(action.users, step.engine.discard_dead_letter)


# -- knobs: a fault, the database's distance, the queue bound ----------------------------
async def _db_down(step: StepState, action: Action) -> None:
    step.engine.faults.db_down = action.value


async def _cache_down(step: StepState, action: Action) -> None:
    step.engine.faults.cache_down = action.value


async def _latency(step: StepState, action: Action) -> None:
    step.engine.faults.db_latency = action.value


async def _error_rate(step: StepState, action: Action) -> None:
    step.engine.faults.db_error_rate = action.value


async def _faults_off(step: StepState, action: Action) -> None:
    step.engine.faults.clear()


async def _db_rtt(step: StepState, action: Action) -> None:
    await set_db_rtt(step.engine, action.value)


async def _max_pending(step: StepState, action: Action) -> None:
    step.engine.set_max_pending(action.value)


# -- a fleet: worker processes beside the dashboard --------------------------------------
async def _worker(step: StepState, action: Action) -> None:
    name, rate = action.value
    try:
        await step.workers.start(step.engine, name, rate)
    except (CacheTuiError, OSError) as exc:
        step.failed(exc)


async def _kill_worker(step: StepState, action: Action) -> None:
    try:
        await step.workers.kill(step.engine, action.value)
    except CacheTuiError as exc:
        step.failed(exc)


async def _await_landed(step: StepState, action: Action) -> None:
    try:
        await step.workers.await_landed(step.engine, action.value)
    except CacheTuiError as exc:
        step.failed(exc)


#: verb → what it does (every verb of :data:`cachetui.scenarios.actions.VERBS`).
DO: dict[str, Verb] = {
    "policy": _policy,
    "read": _read,
    "update": _update,
    "external": _external,
    "invalidate": _invalidate,
    "flush": _flush,
    "crash": _crash,
    "db-down": _db_down,
    "cache-down": _cache_down,
    "latency": _latency,
    "db-rtt": _db_rtt,
    "error-rate": _error_rate,
    "faults": _faults_off,
    "max-pending": _max_pending,
    "wait": _wait,
    "follow": _follow,
    "reject-writes": _reject_writes,
    "accept-writes": _accept_writes,
    "retry": _retry,
    "discard": _discard,
    "queue": _queue,
    "worker": _worker,
    "kill-worker": _kill_worker,
    "await-landed": _await_landed,
}
