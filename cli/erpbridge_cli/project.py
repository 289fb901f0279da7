"""Where the CLI and `make run` keep their local state: the project folder and its ``.erpbridge/``.

The project is, in this order:

1. ``$ERPBRIDGE_HOME``, when set;
2. the nearest folder, from the current one upwards, that has a ``mappings/`` folder of job files;
3. the checkout this CLI runs from (``make setup`` installs it there, editable).

Its state folder ``<project>/.erpbridge/`` holds the shop database (``shop.db``), the runs, locks
and claims (``batch.db``), the staged files (``objects/``) and the orders' XML copies. The job
files are ``<project>/mappings/``. Each of the three is only a default: ``ERPBRIDGE_STATE_DIR``,
``ERPBRIDGE_DATABASE_URL`` and ``ERPBRIDGE_MAPPINGS_DIR`` still win when set.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from erpbridge.errors import ConfigurationError
from erpbridge.mapping.jobfile import JOB_FILE_SUFFIX, MAPPINGS_DIR_VARIABLE

HOME_VARIABLE = "ERPBRIDGE_HOME"
STATE_DIR_VARIABLE = "ERPBRIDGE_STATE_DIR"
DATABASE_URL_VARIABLE = "ERPBRIDGE_DATABASE_URL"
STATE_FOLDER = ".erpbridge"
CHECKOUT = Path(__file__).resolve().parents[2]


def _has_job_files(folder: Path) -> bool:
    mappings = folder / "mappings"
    return mappings.is_dir() and any(mappings.glob(f"*{JOB_FILE_SUFFIX}"))


def find_project(start: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The project folder (see the module docstring); ConfigurationError when there is none."""
    source = os.environ if env is None else env
    home = source.get(HOME_VARIABLE)
    if home:
        folder = Path(home).expanduser().resolve()
        if not folder.is_dir():
            raise ConfigurationError(f"{HOME_VARIABLE}={home}: no such folder")
        return folder
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _has_job_files(folder):
            return folder
    if _has_job_files(CHECKOUT):
        return CHECKOUT
    raise ConfigurationError(
        f"no erpbridge project here: no mappings/ folder of job files in {here} or above; "
        f"cd into the project or set {HOME_VARIABLE}"
    )


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_FOLDER

    @property
    def database(self) -> Path:
        return self.state_dir / "shop.db"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}"

    @property
    def mappings_dir(self) -> Path:
        return self.root / "mappings"

    def defaults(self) -> dict[str, str]:
        """The settings this project gives unless the environment sets them."""
        return {
            STATE_DIR_VARIABLE: str(self.state_dir),
            DATABASE_URL_VARIABLE: self.database_url,
            MAPPINGS_DIR_VARIABLE: str(self.mappings_dir),
        }


@contextmanager
def project_settings(
    project: Project, environ: MutableMapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """Fill in the project's defaults for settings the environment leaves unset, for the block's
    duration; yields the ones filled in."""
    target = os.environ if environ is None else environ
    filled = {name: value for name, value in project.defaults().items() if not target.get(name)}
    target.update(filled)
    try:
        yield filled
    finally:
        for name in filled:
            target.pop(name, None)


def did_you_mean(name: str, known: list[str]) -> str:
    """`` (did you mean X?)`` for the closest known name, else the known names."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]}?"
    return f"known: {', '.join(known)}" if known else "none are known"
