"""The documentation tells the truth about what it is generated from."""

from __future__ import annotations

from erpbridge_cli.settings_reference import PAGE, render


def test_the_settings_reference_matches_the_settings_models() -> None:
    assert PAGE.read_text() == render(), "docs/settings.md is stale: run `make docs`"


def test_every_setting_has_a_description() -> None:
    undescribed = [line.split("|")[1].strip() for line in render().splitlines() if line.endswith("|  |")]
    assert not undescribed, f"settings without a description: {undescribed}"
