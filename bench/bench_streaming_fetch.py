"""Benchmark: streaming fetch of a large batch response out of its SOAP envelope.

Builds a tables response of ``--rows`` EcomProducts rows x 20 columns (200,000 rows ≈ 300 MB, as
BC's plug-in unit would answer a full product export), wraps it escaped in the codeunit's SOAP
envelope, serves it from a local HTTP server in a subprocess, and measures in a fresh client
process each:

* baseline — ``requests`` ``iter_content`` download of the same response body straight to a file;
* stream   — ``SoapErpClient.stream()`` writing the unescaped inner document to a file.

Prints MB/s (MB = 10^6 bytes) of unescaped output, time ratio to the baseline and the client
process's peak RSS. Targets: ≥ 100 MB/s and peak RSS < 100 MB. The output is checked against the
generated document (SHA-256), so a fast wrong answer does not count.

    .venv/bin/python bench/bench_streaming_fetch.py            # full size
    .venv/bin/python bench/bench_streaming_fetch.py --rows 20000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHUNK = 1 << 20
NS = "urn:microsoft-dynamics-schemas/codeunit/DWWebService"
REQUEST = b'<GetEcomData><Products type="all" shopID="SHOP1"/></GetEcomData>'

COLUMNS = (
    "ProductId", "ProductVariantId", "ProductLanguageId", "ProductNumber", "ProductName",
    "ProductShortDescription", "ProductLongDescription", "ProductPrice", "ProductCost", "ProductStock",
    "ProductWeight", "ProductVolume", "ProductManufacturerId", "ProductGroupId", "ProductEAN",
    "ProductDefaultUnitId", "ProductActive", "ProductType", "ProductCreated", "ProductUpdated",
)  # fmt: skip


def _row(i: int) -> str:
    values = (
        f"P{i:07d}", "", "LANG1", f"1{i:09d}", f"Bicycle frame &amp; fork #{i}",
        f"Aluminium frame, size {i % 7 + 48} cm &lt;light&gt;",
        f"Long description of product {i}: welded 6061 aluminium, &quot;race&quot; geometry, "
        f"internal cable routing, tapered head tube; fits tyres up to {28 + i % 12} mm. Frame weight "
        f"{1100 + i % 400} g; comes with headset, seat clamp and thru-axles; warranty 5 years.",
        f"{(i % 9000) / 7 + 10:.2f}", f"{(i % 9000) / 9 + 5:.2f}", str(i % 500),
        f"{1 + (i % 50) / 10:.2f}", "0.12", f"M{i % 40:03d}", f"GROUP{i % 120}", f"{5701234000000 + i}",
        "PCS", "True" if i % 13 else "False", "Stock", "2024-01-15T08:30:00", "2026-11-20T17:45:12",
    )  # fmt: skip
    columns = "".join(
        f'<column columnName="{name}"><![CDATA[{value}]]></column>' if n % 4 == 0
        else f'<column columnName="{name}">{value}</column>'
        for n, (name, value) in enumerate(zip(COLUMNS, values, strict=True))
    )  # fmt: skip
    return f'<item table="EcomProducts">{columns}</item>'


def generate(workdir: Path, rows: int) -> tuple[Path, int, str]:
    """Write the SOAP body to serve; return (path, inner document size, SHA-256 of the expected output)."""
    inner_head_bc = '<?xml version="1.0" encoding="utf-16"?>'  # what BC declares
    inner_head_out = '<?xml version="1.0" encoding="utf-8"?>'  # what stream() must write
    body_path = workdir / "response.xml"
    digest = hashlib.sha256()
    size = 0

    def escape(text: str) -> bytes:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()

    with body_path.open("wb") as body:
        body.write(
            b'<?xml version="1.0" encoding="utf-8"?><Soap:Envelope xmlns:Soap="http://schemas.xmlsoap.org/'
            b'soap/envelope/"><Soap:Body><Process_Result xmlns="' + NS.encode() + b'"><request>'
        )
        start = '<tables ExportIsDone="false" version="1.0"><table tableName="EcomProducts">'
        body.write(escape(inner_head_bc + start))
        first = (inner_head_out + start).encode()
        digest.update(first)
        size += len(first)
        for batch_start in range(0, rows, 2000):
            text = "".join(_row(i) for i in range(batch_start, min(rows, batch_start + 2000)))
            encoded = text.encode()
            digest.update(encoded)
            size += len(encoded)
            body.write(escape(text))
        end = "</table></tables>"
        digest.update(end.encode())
        size += len(end)
        body.write(escape(end))
        body.write(b"</request></Process_Result></Soap:Body></Soap:Envelope>")
    return body_path, size, digest.hexdigest()


# -- the server (a subprocess) ---------------------------------------------------------------------


def serve(path: str) -> None:
    size = os.path.getsize(path)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.flush()
            with open(path, "rb") as body:
                self.connection.sendfile(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# -- the client (a fresh subprocess per measurement, so peak RSS is its own) ---------------------


def client(mode: str, url: str, out: str) -> None:
    import requests

    from erpbridge.erp.client import SoapErpClient
    from erpbridge.erp.ports import RequestKind
    from erpbridge.settings import ErpSettings

    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    export_is_done = None
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    with open(out, "wb") as sink:
        if mode == "baseline":
            response = requests.post(url, data=REQUEST, stream=True, timeout=(5, 120))
            response.raise_for_status()
            for chunk in response.iter_content(chunk_size=CHUNK):
                sink.write(chunk)
        else:
            settings = ErpSettings(erp_url=url, erp_auth="none", erp_timeout_s=120)  # type: ignore[arg-type]
            result = SoapErpClient(settings).stream(REQUEST, sink, kind=RequestKind.BATCH_FETCH)
            export_is_done = result.export_is_done
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "bytes_out": os.path.getsize(out),
                "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "rss_after_imports_kb": baseline_rss,
                "export_is_done": export_is_done,
            }
        )
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(mode: str, url: str, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}
    done = subprocess.run(
        [sys.executable, __file__, "--client", mode, url, str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} client failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(CHUNK * 4):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=200_000, help="EcomProducts rows (default 200,000 ≈ 300 MB)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="measurements per mode; the best is reported")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.client:
        client(*args.client)
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench-fetch-"))
    server = None
    try:
        started = time.perf_counter()
        body_path, inner_size, expected_sha = generate(workdir, args.rows)
        body_size = body_path.stat().st_size
        took = time.perf_counter() - started
        inner_mb, body_mb = inner_size / 1e6, body_size / 1e6
        print(f"generated {args.rows:,} rows x {len(COLUMNS)} columns in {took:.1f} s:")
        print(f"inner document {inner_mb:.1f} MB, SOAP body {body_mb:.1f} MB (escaped)")
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(body_path)], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/WS/CRONUS/Codeunit/DWWebService"

        load = os.getloadavg()[0]
        results: dict[str, list[dict[str, float]]] = {"baseline": [], "stream": []}
        for _ in range(args.repeat):
            for mode in ("baseline", "stream"):
                out = workdir / f"{mode}.out"
                measured = _measure(mode, url, out)
                if mode == "stream":
                    if _sha256(out) != expected_sha:
                        raise SystemExit("stream() output differs from the generated document")
                    if measured["export_is_done"] is not False:
                        raise SystemExit("stream() did not report ExportIsDone=false")
                elif out.stat().st_size != body_size:
                    raise SystemExit("baseline download is incomplete")
                out.unlink()
                results[mode].append(measured)

        base = min(results["baseline"], key=lambda r: r["seconds"])
        stream = min(results["stream"], key=lambda r: r["seconds"])
        print(
            f"load average before measuring: {load:.1f} on {os.cpu_count()} CPUs (other work skews wall time)"
        )
        header = ("", "seconds", "CPU s", "MB/s in", "MB/s out", "out/CPU-s", "peak RSS")
        print("{:10} {:>8} {:>7} {:>8} {:>9} {:>10} {:>9}".format(*header))
        for name, r in (("baseline", base), ("stream", stream)):
            out_mb, wall, cpu = r["bytes_out"] / 1e6, r["seconds"], r["cpu_seconds"]
            rss = f"{r['peak_rss_kb'] / 1024:.0f} MB"
            row = (name, f"{wall:.2f}", f"{cpu:.2f}", f"{body_mb / wall:.0f}", f"{out_mb / wall:.0f}")
            print("{:10} {:>8} {:>7} {:>8} {:>9} {:>10} {:>9}".format(*row, f"{out_mb / cpu:.0f}", rss))
        out_rate = stream["bytes_out"] / 1e6 / stream["seconds"]
        rss_mb = stream["peak_rss_kb"] / 1024
        print(
            f"stream/baseline time ratio {stream['seconds'] / base['seconds']:.2f}; "
            f"unescaped output {out_rate:.0f} MB/s (target >= 100): {'OK' if out_rate >= 100 else 'MISSED'}; "
            f"peak RSS {rss_mb:.0f} MB (target < 100): {'OK' if rss_mb < 100 else 'MISSED'}; "
            f"output verified by SHA-256"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
