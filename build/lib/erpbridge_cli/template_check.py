"""Offline validation of template.yaml: cfn-lint on the SAM file and on its samtranslator expansion.

cfn-lint alone misses circular dependencies and policy-template typos; the expanded template
catches them (see shared/reference/serverless-anchors.md §3.4). No AWS account is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LOCAL_CODE_PROPERTIES = {"CodeUri", "ContentUri", "DefinitionUri"}


def _placeholder_local_paths(node: Any) -> Any:
    """The translator rejects local paths; give it S3 locations instead."""
    if isinstance(node, dict):
        return {
            key: "s3://placeholder-bucket/placeholder-key"
            if key in LOCAL_CODE_PROPERTIES and isinstance(value, str)
            else _placeholder_local_paths(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_placeholder_local_paths(item) for item in node]
    return node


def expand(template_path: Path) -> dict[str, Any]:
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.public.translator import ManagedPolicyLoader  # noqa: F401  (import check)
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class OfflinePolicyLoader:
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    template = _placeholder_local_paths(yaml_parse(template_path.read_text()))
    try:
        return dict(transform(template, {}, OfflinePolicyLoader()))
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in error.causes)
        raise SystemExit(f"samtranslator: {template_path}: {causes}") from None


def main(argv: list[str]) -> int:
    template_path = Path(argv[0] if argv else "template.yaml")
    lint = [str(Path(sys.executable).with_name("cfn-lint"))]
    print(f"cfn-lint {template_path}")
    if subprocess.run([*lint, str(template_path)], check=False).returncode != 0:
        return 1
    expanded = expand(template_path)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(expanded, out)
    try:
        print("cfn-lint <samtranslator expansion>")
        # Unused parameters are judged on the SAM file above (Globals count as uses there).
        return subprocess.run([*lint, "--ignore-checks", "W2001", "--", out.name], check=False).returncode
    finally:
        os.unlink(out.name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
