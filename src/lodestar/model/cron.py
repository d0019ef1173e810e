"""Cron schedules: five fields (minute, hour, day of month, month, day of week), as crontab
writes them. croniter also reads a sixth field, as seconds, and a seventh, as years; a
schedule written for another tool with seconds first would then run at the wrong times, so
only five are accepted."""

from __future__ import annotations

RULE = "use five fields (minute hour day-of-month month day-of-week), such as '*/30 * * * *'"


def check_cron(value: str) -> str:
    """The schedule, stripped; ValueError saying how to write it when it is not a five-field
    cron expression."""
    text = value.strip()
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"a cron schedule has five fields, not {len(fields)}: {RULE}")
    from croniter import croniter  # ~20 ms to import: only where there is a schedule

    if not croniter.is_valid(text):
        raise ValueError(f"not a cron expression: {RULE}")
    return text
