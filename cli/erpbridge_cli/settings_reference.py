"""docs/settings.md, generated from the settings models (``make docs`` writes it; a test fails when
the page and the models differ)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs/settings.md"

HEADER = """# Settings reference

Every setting is read from the environment with the prefix `ERPBRIDGE_` and validated once, at
start; a wrong or missing value stops the process with a message naming the setting, never its
value. In AWS, any setting can also come from SSM Parameter Store (`ERPBRIDGE_SSM_PATH`: a
parameter per setting, named without the prefix in lower case) and from Secrets Manager
(`ERPBRIDGE_SECRETS_NAME`: a JSON object keyed the same way); a later source wins (environment,
then SSM, then Secrets Manager), and a value reads the same wherever it is set (lists as JSON).
`ERPBRIDGE_DB_SECRET_NAME` names the database in the RDS format, see [Deploy to AWS](deploy.md).
Secrets (type *secret*) are never logged or echoed.

The settings are one model, `erpbridge.settings.Settings`, loaded by one function
(`load_settings`); each table below is one of its sections, the type a use case asks for when it
needs only that group. This page is generated from the model: run `make docs` after changing it.
"""


def _type(field: FieldInfo) -> str:
    text = str(field.annotation).replace("typing.", "").replace("NoneType", "None")
    text = text.replace("pydantic.types.SecretStr", "secret").replace("<class '", "").replace("'>", "")
    text = text.replace("pydantic.networks.AnyHttpUrl", "URL")
    # Python 3.13 names pathlib's class pathlib._local.Path; the page must read the same on 3.11.
    text = text.replace("pathlib._local.Path", "path").replace("pathlib.Path", "path")
    if text.startswith("Literal["):
        text = " \\| ".join(part.strip().strip("'") for part in text[len("Literal[") : -1].split(","))
    return text.replace(" | ", " \\| ")


def _default(field: FieldInfo) -> str:
    value: Any = field.get_default(call_default_factory=True)
    if value is None or value == "":
        return "—"
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    return f"`{value}`"


def _rows(model: Any) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| `ERPBRIDGE_{name.upper()}` | {_type(field)} | {_default(field)} | {description} |")
    return rows


def render() -> str:
    from erpbridge.settings import Settings

    table = ["| setting | type | default | meaning |", "| --- | --- | --- | --- |"]
    parts = [HEADER]
    for section in Settings.sections():
        parts += [f"## {section.title}\n", *table, *_rows(section), ""]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"]:
        PAGE.write_text(render())
        print(f"wrote {PAGE.relative_to(ROOT)}")
        return 0
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
