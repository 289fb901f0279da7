"""Build the Lambda artefact the way the runtime lays it out, and import every handler from it alone.

`sam build` needs Docker or a matching Python here, so this check builds the same layout with pip:
`/opt/python` (the common layer: layers/common/requirements.txt + the erpbridge package), `/opt`
(the mappings layer: the job files) and each function's code as `/var/task`, plus boto3 standing in
for the copy the Lambda runtime ships. Each handler module is then imported by a fresh interpreter
that sees nothing else (no site-packages, no project folders): a dependency missing from the layer's
requirements, a handler importing a dev-only tool, or a job file that does not load fails here.
It also checks that every layer dependency has an arm64 (manylinux aarch64) wheel for python3.13,
the architecture the template deploys.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "layers/common/requirements.txt"
HANDLERS = {
    "functions/live": ["live_api"],
    "functions/batch": ["fetch_job", "import_staged", "export_failed_orders", "migrate_db"],
}
SMOKE = """
import importlib, os, sys
from erpbridge.mapping.jobfile import load_job, list_job_ids
for module in sys.argv[1:]:
    handler = importlib.import_module(module).lambda_handler
    assert callable(handler), module
jobs = list_job_ids()
for job in jobs:
    load_job(job)
assert not any(p.endswith("site-packages") and "artefact" not in p for p in sys.path), sys.path
print(f"  imported {', '.join(sys.argv[1:])}; loaded job files {', '.join(jobs)}")
"""


def _pip(*args: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-warn-conflicts",
            *args,
        ],
        check=True,
    )


def build(into: Path) -> tuple[Path, Path, Path]:
    layer = into / "opt/python"
    runtime = into / "runtime"
    _pip("--target", str(layer), "-r", str(REQUIREMENTS))
    shutil.copytree(
        ROOT / "layers/common/erpbridge", layer / "erpbridge", ignore=shutil.ignore_patterns("__pycache__")
    )
    _pip("--target", str(runtime), "boto3")
    mappings = into / "opt"
    for job_file in (ROOT / "mappings").iterdir():
        if job_file.is_file():
            shutil.copy2(job_file, mappings / job_file.name)
    return layer, mappings, runtime


def check_arm64_wheels(into: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_aarch64",
            "--platform",
            "manylinux_2_28_aarch64",
            "--python-version",
            "3.13",
            "--implementation",
            "cp",
            "-d",
            str(into / "arm64"),
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="erpbridge-artefact-") as tmp:
        into = Path(tmp)
        print("building the layer (/opt/python), the mappings layer (/opt) and a runtime boto3")
        layer, mappings, runtime = build(into)
        size_mb = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file()) / 1e6
        print(f"  common layer: {size_mb:.1f} MB unzipped (Lambda's limit for all layers + code: 250 MB)")
        for code_dir, modules in HANDLERS.items():
            print(f"importing handlers of {code_dir} from the artefact alone")
            path = [str(ROOT / code_dir), str(layer), str(runtime)]
            env = {
                "PYTHONPATH": ":".join(path),
                "ERPBRIDGE_MAPPINGS_DIR": str(mappings),
                "PATH": "/usr/bin:/bin",
            }
            env |= {"AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_METRICS_NAMESPACE": "erpbridge"}
            result = subprocess.run(
                [sys.executable, "-S", "-c", SMOKE, *modules], env=env, cwd=tmp, check=False
            )
            if result.returncode != 0:
                print(f"artefact check failed for {code_dir}", file=sys.stderr)
                return 1
        print("checking that every layer dependency has an arm64 wheel for python3.13")
        check_arm64_wheels(into)
    print("artefact check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
