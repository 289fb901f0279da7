"""`erpbridge emulator` starts the emulator in the foreground and prints how to use it."""

from __future__ import annotations

import re
import subprocess
import sys

import requests

from bc_emulator.soap import build_request_envelope, read_response


def test_the_cli_starts_an_emulator_and_prints_urls_and_credentials() -> None:
    command = [
        sys.executable,
        "-m",
        "erpbridge_cli.main",
        "emulator",
        "--port",
        "0",
        "--auth",
        "basic",
        "--user",
        "SHOP",
        "--password",
        "s3cret",
        "--products",
        "30",
        "--customers",
        "3",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Ctrl+C"):
                break
        output = "".join(printed)
        soap_url = re.search(r"SOAP URL\s+(\S+)", output)
        assert soap_url, output
        assert "export ERPBRIDGE_ERP_AUTH='basic'" in output
        assert "export ERPBRIDGE_ERP_USER='SHOP'" in output
        assert "s3cret" in output
        response = requests.post(
            soap_url.group(1),
            data=build_request_envelope("<GetEcomData></GetEcomData>"),
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": '"urn:microsoft-dynamics-schemas/codeunit/DWWebService:Process"',
            },
            auth=("SHOP", "s3cret"),
            timeout=10,
        )
        assert response.status_code == 200
        assert read_response(response.content).startswith("<?xml")
    finally:
        process.terminate()
        remaining, _ = process.communicate(timeout=10)
    assert "stopped." in remaining


def test_the_cli_refuses_an_unknown_auth_mode() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "erpbridge_cli.main", "emulator", "--auth", "kerberos"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "none, key, basic, oauth2" in result.stdout + result.stderr
