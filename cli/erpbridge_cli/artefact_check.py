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
    "functions/admin": ["admin_api"],
    "functions/batch": ["fetch_job", "import_staged", "export_failed_orders", "migrate_db", "audit_prices"],
}
SMOKE = """
import importlib, os, sys
from erpbridge.mapping.jobfile import load_job, list_job_ids
for module in sys.argv[1:]:
    handler = importlib.import_module(module).lambda_handler
    assert callable(handler), module
from erpbridge.admin.web import render, static_file  # the console's templates and assets ship too
assert static_file("console.css") and static_file("console.js")
assert "<html" in render("message.html", title="t", message="m")
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


# What `sam build` may produce (unzipped), well under Lambda's 250 MB for a function and its layers;
# growth past these means a dependency came in that should be looked at.
BUDGET_MB = {"CommonLayer": 100.0, "MappingsLayer": 1.0, "function": 2.0}
ELF_AARCH64 = 183  # e_machine of an arm64 ELF file


def _elf_machine(path: Path) -> int | None:
    with path.open("rb") as handle:
        head = handle.read(20)
    if head[:4] != b"\x7fELF":
        return None
    return int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")


def check_built(build_dir: Path) -> int:
    """Every native library `sam build` produced is arm64, and every artefact is within budget."""
    problems: list[str] = []
    for artefact in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        files = [f for f in artefact.rglob("*") if f.is_file()]
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        budget = BUDGET_MB.get(artefact.name, BUDGET_MB["function"])
        natives = [f for f in files if f.suffix == ".so" or ".so." in f.name]
        wrong = [f for f in natives if _elf_machine(f) not in (None, ELF_AARCH64)]
        print(f"  {artefact.name}: {size_mb:.1f} MB (budget {budget:g} MB), {len(natives)} native libraries")
        if size_mb > budget:
            problems.append(f"{artefact.name} is {size_mb:.1f} MB, over its {budget:g} MB budget")
        problems += [f"{f.relative_to(build_dir)} is not arm64" for f in wrong]
    if not (build_dir / "CommonLayer").is_dir():
        problems.append(f"{build_dir} has no CommonLayer: did sam build run?")
    for problem in problems:
        print(f"built artefact: {problem}", file=sys.stderr)
    print("built artefact check " + ("failed" if problems else "passed"))
    return 1 if problems else 0


_NOT_IN_A_WHEEL = (".git", ".venv*", ".aws-sam", ".erpbridge", ".site", "build", "*.egg-info", "__pycache__")


def check_wheel() -> int:
    """The wheel a user installs gives a working `erpbridge` command (cli and emulator extras)."""
    with tempfile.TemporaryDirectory(prefix="erpbridge-wheel-") as tmp:
        into = Path(tmp)
        # Built from a copy: setuptools writes build/ and *.egg-info into the tree it builds.
        source = into / "source"
        shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_NOT_IN_A_WHEEL))
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(into), str(source)],
            check=True,
        )
        (wheel,) = into.glob("erpbridge-*.whl")
        subprocess.run([sys.executable, "-m", "venv", str(into / "venv")], check=True)
        pip = [str(into / "venv/bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, f"{wheel}[cli,emulator]"], check=True)
        command = str(into / "venv/bin/erpbridge")
        database = f"sqlite:///{into}/shop.db"
        for args in (["--help"], ["db", "upgrade", "--database-url", database], ["emulator", "--help"]):
            result = subprocess.run([command, *args], capture_output=True, text=True, cwd=tmp, check=False)
            if result.returncode != 0:
                print(f"erpbridge {' '.join(args)} failed from the wheel:\n{result.stderr}", file=sys.stderr)
                return 1
            print(f"  erpbridge {' '.join(args)}: ok")
    print("wheel check passed")
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--built"]:
        return check_built(Path(sys.argv[2]))
    if sys.argv[1:2] == ["--wheel"]:
        return check_wheel()
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
