"""The line a side of the compare screen shows after an operation on both sides: the
operation's outcome there, a burst's tally, what a crash lost."""

from __future__ import annotations

from rich.text import Text

from cachetui.app.operations import update_failure
from cachetui.app.states import Palette
from cachetui.compare.difference import counted
from cachetui.engine import CacheTuiError, CrashReport, Profile, WritePolicy


def failed_line(what: str, user: int, exc: CacheTuiError, palette: Palette) -> Text:
    """``what`` (read, update, external write of) user ``user`` failed on this side."""
    if what == "update":
        title, message = update_failure(user, exc)
        return Text(f"✖ {title}: {message}", style=f"bold {palette.bad}")
    return Text(f"✖ {what} user {user} failed: {exc}", style=f"bold {palette.bad}")


def done_line(
    what: str, user: int, profile: Profile, policy: WritePolicy, palette: Palette
) -> Text:
    """``what`` user ``user`` went through on a side running ``policy``."""
    if what == "update" and policy is WritePolicy.WRITE_BEHIND:
        how = "acknowledged, queued for the DB"
    elif what == "update":
        how = "in the DB"
    else:
        how = "ok"
    return Text(f"✔ {what} user {user} → v{profile.version}: {how}", style=palette.ok)


def burst_line(kind: str, burst: int, failed: int) -> str:
    return f"burst of {burst} {kind}s: {burst - failed} ok, {failed} failed"


def crash_line(lost: list[tuple[int, int]], report: CrashReport, palette: Palette) -> Text:
    """What a side's crash lost (a memory queue's acknowledged writes), or that nothing
    was: ``lost`` and ``report`` are what the engine's crash returned and recorded."""
    replayed = report.replayed if report is not None else 0
    if lost:
        return Text(
            f"✖ crash: {counted(report.lost_updates, 'acknowledged update')} of "
            f"{counted(len(lost), 'user')} lost (never reached the DB)",
            style=f"bold {palette.bad}",
        )
    if replayed:
        return Text(
            f"✔ crash: nothing lost; {counted(replayed, 'write')} replayed from the durable queue",
            style=palette.ok,
        )
    return Text("✔ crash: nothing lost (nothing was pending)", style=palette.ok)
