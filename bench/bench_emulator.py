"""Benchmark of the BC emulator itself, so later benchmarks know it is not their bottleneck.

Prints, each beside a baseline measured in the same run:

1. start time of an in-process emulator with the default data set (cold: data generated; warm:
   data set already in the process);
2. a 50-item product-info request over HTTP (keep-alive): ms per request, median and p95, beside
   the same HTTP round trip to the trivial ``/_control/health`` endpoint of the same server;
3. a 100,000-item ``Products type="all"`` fetch (streamed, chunked): MB/s, beside the same server
   streaming the same number of filler bytes (``/_control/blob``), plus the server's peak RSS;
4. the same export paged (``pageSize``) for a few pages: MB/s.

The server runs in a child process (``erpbridge emulator``), so client and server do not share
one GIL. Run: ``.venv/bin/python bench/bench_emulator.py [--products 100000] [--requests 500]``.
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psutil
import requests

from bc_emulator.soap import build_request_envelope
from erpbridge.protocol.request_builders import ProductQuery, build_product_info_request


@contextmanager
def emulator_process(products: int, customers: int = 50) -> Iterator[dict[str, str]]:
    command = [
        sys.executable,
        "-m",
        "erpbridge_cli.main",
        "emulator",
        "--port",
        "0",
        "--auth",
        "key",
        "--products",
        str(products),
        "--customers",
        str(customers),
        "--security-key",
        "bench-key",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    urls: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        match = re.match(r"\s+(SOAP URL|control API)\s+(\S+)", line)
        if match:
            urls[match.group(1)] = match.group(2)
        if line.startswith("Ctrl+C"):
            break
    urls["startup_s"] = f"{time.perf_counter() - started:.2f}"
    urls["pid"] = str(process.pid)
    try:
        yield urls
    finally:
        process.terminate()
        process.wait(timeout=30)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def headers() -> dict[str, str]:
    return {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"urn:microsoft-dynamics-schemas/codeunit/DWWebService:Process"',
        "X-Security-Key": "bench-key",
    }


def timings(call: Callable[[], object], count: int, warmup: int = 30) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.95) - 1]


def bench_start() -> None:
    from bc_emulator import dispatch
    from bc_emulator.server import Emulator, EmulatorConfig

    dispatch._DATASETS.clear()
    started = time.perf_counter()
    emulator = Emulator(EmulatorConfig()).start()
    cold = time.perf_counter() - started
    emulator.stop()
    started = time.perf_counter()
    emulator = Emulator(EmulatorConfig()).start()
    warm = time.perf_counter() - started
    emulator.stop()
    print("== start (in-process, default data set: 1,000 items, 50 customers)")
    print(f"   cold start (generates the data) {cold * 1000:8.1f} ms")
    print(f"   warm start (data set shared)    {warm * 1000:8.1f} ms   (cold / warm = {cold / warm:.1f}x)")


def bench_product_info(count: int) -> None:
    from bc_emulator.dataset import Dataset

    dataset = Dataset.generate()
    request = build_product_info_request(
        [ProductQuery(item.no, quantity=3) for item in dataset.items[:50]],
        customer_number=dataset.customers[0].no,
        unit_prices=False,
        anonymous_user_key="Anonymous",
    )
    body = build_request_envelope(request)
    ping = build_request_envelope(b"<GetEcomData></GetEcomData>")
    # Millions of data-set objects would make the client's own cyclic GC the thing measured.
    del dataset
    gc.collect()
    with emulator_process(products=1000) as urls:
        session = requests.Session()
        soap_url = urls["SOAP URL"]
        health = origin(soap_url) + "/_control/health"

        def product_info() -> None:
            response = session.post(soap_url, data=body, headers=headers(), timeout=30)
            assert response.status_code == 200, response.text[:200]

        def trivial() -> None:
            assert session.get(health, timeout=30).status_code == 200

        def soap_ping() -> None:
            assert session.post(soap_url, data=ping, headers=headers(), timeout=30).status_code == 200

        server = psutil.Process(int(urls["pid"]))
        base = timings(trivial, count)
        pings = timings(soap_ping, count)
        cpu_before = sum(server.cpu_times()[:2])
        infos = timings(product_info, count)
        server_cpu_ms = (sum(server.cpu_times()[:2]) - cpu_before) / (count + 30) * 1000
        size = len(session.post(soap_url, data=body, headers=headers(), timeout=30).content)
    med_base, med_info = statistics.median(base), statistics.median(infos)
    print(
        f"== 50-item product-info request over HTTP keep-alive "
        f"({count} requests, response {size / 1024:.0f} KiB)"
    )
    print(f"   baseline GET /_control/health  median {med_base:6.2f} ms   p95 {p95(base):6.2f} ms")
    print(
        f"   SOAP ping                      median {statistics.median(pings):6.2f} ms"
        f"   p95 {p95(pings):6.2f} ms"
    )
    print(f"   50-item product info           median {med_info:6.2f} ms   p95 {p95(infos):6.2f} ms")
    print(
        f"   product info / baseline = {med_info / med_base:.1f}x; "
        f"emulator work per request ≈ {med_info - med_base:.2f} ms wall, "
        f"{server_cpu_ms:.2f} ms of server CPU (the machine may be shared: CPU time is the steadier figure)"
    )


def read_all(response: requests.Response) -> int:
    total = 0
    for chunk in response.raw.stream(1024 * 1024, decode_content=False):
        total += len(chunk)
    return total


def peak_rss(pid: int) -> tuple[Callable[[], float], threading.Event]:
    process = psutil.Process(pid)
    peak = [process.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], process.memory_info().rss)

    threading.Thread(target=sample, daemon=True).start()
    return (lambda: peak[0] / 1024**2), stop


def bench_products_fetch(products: int, pages: int) -> None:
    print(f"== {products:,}-item products fetch (starting an emulator with {products:,} items …)")
    with emulator_process(products=products, customers=50) as urls:
        soap_url = urls["SOAP URL"]
        base_url = origin(soap_url)
        print(f"   emulator process ready in {urls['startup_s']} s (data generation included)")
        pid = int(urls["pid"])
        rss_before = psutil.Process(pid).memory_info().rss / 1024**2
        request = build_request_envelope(
            b'<GetEcomData><tables><Products type="all"/></tables></GetEcomData>'
        )
        peak, stop = peak_rss(pid)
        cpu_before = sum(psutil.Process(pid).cpu_times()[:2])
        started = time.perf_counter()
        with requests.post(soap_url, data=request, headers=headers(), stream=True, timeout=600) as response:
            assert response.status_code == 200
            size = read_all(response)
        elapsed = time.perf_counter() - started
        server_cpu = sum(psutil.Process(pid).cpu_times()[:2]) - cpu_before
        stop.set()
        started = time.perf_counter()
        with requests.get(f"{base_url}/_control/blob?bytes={size}", stream=True, timeout=600) as response:
            blob = read_all(response)
        blob_elapsed = time.perf_counter() - started
        mb = size / 1e6
        print(
            f"   Products type=all: {mb:,.0f} MB in {elapsed:.1f} s = {mb / elapsed:,.0f} MB/s "
            f"({mb / server_cpu:,.0f} MB per server CPU second)"
        )
        print(
            f"   baseline (same server, {blob / 1e6:,.0f} MB of filler): "
            f"{blob / 1e6 / blob_elapsed:,.0f} MB/s"
        )
        print(f"   export / baseline throughput = {(mb / elapsed) / (blob / 1e6 / blob_elapsed):.2f}")
        print(f"   server RSS {rss_before:,.0f} MB before, peak {peak():,.0f} MB during the fetch (streamed)")

        page_size = 20_000
        paged_bytes = 0
        started = time.perf_counter()
        for _ in range(pages):
            body = build_request_envelope(
                f'<GetEcomData customModifier="bench" pageSize="{page_size}">'
                '<tables><Products type="all"/></tables></GetEcomData>'
            )
            with requests.post(soap_url, data=body, headers=headers(), stream=True, timeout=600) as response:
                paged_bytes += read_all(response)
        paged_elapsed = time.perf_counter() - started
        print(
            f"   paged (pageSize {page_size:,} rows, first {pages} pages): {paged_bytes / 1e6:,.0f} MB, "
            f"{paged_bytes / 1e6 / paged_elapsed:,.0f} MB/s, {paged_elapsed / pages * 1000:,.0f} ms per page"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--skip-fetch", action="store_true", help="leave out the big products fetch")
    args = parser.parse_args()
    bench_start()
    bench_product_info(args.requests)
    if not args.skip_fetch:
        bench_products_fetch(args.products, args.pages)


if __name__ == "__main__":
    main()
