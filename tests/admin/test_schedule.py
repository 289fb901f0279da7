"""The next run the Jobs page shows, from the job file's EventBridge Scheduler expression."""

from __future__ import annotations

from datetime import UTC, datetime

from erpbridge.admin.schedule import next_run

NOW = datetime(2026, 12, 2, 12, 7, tzinfo=UTC)  # a Wednesday


def test_cron_expressions_fire_at_their_next_slot_in_their_timezone() -> None:
    assert next_run("cron(0 2 * * ? *)", "UTC", after=NOW) == datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    assert next_run("cron(30 2 * * ? *)", "UTC", after=NOW) == datetime(2026, 12, 3, 2, 30, tzinfo=UTC)
    assert next_run("cron(0/15 * * * ? *)", "UTC", after=NOW) == datetime(2026, 12, 2, 12, 15, tzinfo=UTC)
    weekly = next_run("cron(0 6 ? * MON *)", "UTC", after=NOW)
    assert weekly == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    copenhagen = next_run("cron(0 2 * * ? *)", "Europe/Copenhagen", after=NOW)
    assert copenhagen is not None and copenhagen.astimezone(UTC) == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def test_a_rate_counts_from_the_last_run_and_unknown_syntax_is_not_guessed() -> None:
    last = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert next_run("rate(15 minutes)", "UTC", after=NOW, last_run=last) == datetime(
        2026, 12, 2, 12, 15, tzinfo=UTC
    )
    assert next_run("rate(15 minutes)", "UTC", after=NOW, last_run=None) == NOW  # due now
    assert next_run("cron(0 2 L * ? *)", "UTC", after=NOW) is None
    assert next_run("at(2026-12-24T00:00:00)", "UTC", after=NOW) is None
