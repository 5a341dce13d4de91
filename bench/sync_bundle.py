"""Benchmark: write and read a bundle of 1,000,000 eligibility records against plain msgspec.

Speed: median of 3 runs in this process, with the records prebuilt in a list for both
the bundle and the baseline (the same v1 Structs, so the same array-like encoding).
Memory: each phase runs again in its own subprocess, with records generated lazily
(write) or discarded as read (read), and reports ru_maxrss. Breakdown: each step of
writing timed alone, on one thread, on the same records (median of the runs).

Run from the repository root: ``.venv/bin/python -m bench.sync_bundle [--records N] [--runs 3]``
"""

import argparse
import hashlib
import json
import operator
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from sync_format import (
    EligibilityRevoke,
    EligibilityUpsert,
    TrustStore,
    ZoneSecretKeys,
    open_bundle,
    write_bundle,
)
from sync_format.bundle import FRAME_RECORDS
from sync_format.stream import CHUNK_SIZE

ROOT = Path(__file__).resolve().parents[1]


def generate(count: int) -> Iterator[EligibilityUpsert]:
    for index in range(count):
        yield EligibilityUpsert(
            reservation_id=f"A{index // 1_000_000:02d}{index % 1_000_000:06d}",
            password=f"{index % 12 + 1:02d}{index % 28 + 1:02d}",
            shipment_no=f"S{index:010d}",
        )


def keys() -> tuple[ZoneSecretKeys, ZoneSecretKeys]:
    return ZoneSecretKeys.generate("issuance"), ZoneSecretKeys.generate("reservation")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def timed(action: object, cpu: list[float] | None = None) -> float:
    """Return the wall time of action(); append its process CPU time to cpu if given."""
    assert callable(action)
    start, start_cpu = time.perf_counter(), time.process_time()
    action()
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def speed(count: int, runs: int, folder: Path) -> dict[str, float]:
    records = list(generate(count))
    sender, recipient = keys()
    trusted = TrustStore([sender.public()])
    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder(list[EligibilityUpsert | EligibilityRevoke])
    names = ("base_w", "base_r", "write", "read", "base_w_cpu", "write_cpu")
    results: dict[str, list[float]] = {name: [] for name in names}
    for run in range(runs):
        encoded = b""

        def base_write() -> None:
            nonlocal encoded
            encoded = encoder.encode(records)

        results["base_w"].append(timed(base_write, results["base_w_cpu"]))
        results["base_r"].append(timed(lambda encoded=encoded: decoder.decode(encoded)))
        path = folder / f"speed-{run}.bundle"
        results["write"].append(
            timed(
                lambda path=path: write_bundle(
                    path,
                    kind="eligibility",
                    records=records,
                    sender=sender,
                    recipient=recipient.public(),
                    sequence=1,
                ),
                results["write_cpu"],
            )
        )

        def read(path: Path = path) -> None:
            bundle = open_bundle(path, recipient=recipient, trusted=trusted)
            for _batch in bundle.batches():
                pass

        def read_records(path: Path = path) -> None:
            bundle = open_bundle(path, recipient=recipient, trusted=trusted)
            for _record in bundle.records():
                pass

        results["read"].append(timed(read))
        results.setdefault("read_records", []).append(timed(read_records))
        results.setdefault("size", []).append(path.stat().st_size)
        path.unlink()
    return {name: statistics.median(values) for name, values in results.items()}


def breakdown(count: int, runs: int, folder: Path) -> dict[str, float]:
    """Time each step of writing alone, single-threaded, on the same records."""
    records = list(generate(count))
    steps: dict[str, list[float]] = {}
    for _run in range(runs):
        for name, seconds in _steps_once(records, folder / "breakdown.tmp").items():
            steps.setdefault(name, []).append(seconds)
    return {name: statistics.median(values) for name, values in steps.items()}


def _steps_once(records: list[EligibilityUpsert], path: Path) -> dict[str, float]:
    encoder = msgspec.msgpack.Encoder()
    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    frames: list[bytes] = []
    sealed: list[bytes] = []

    def slice_and_count() -> None:
        for start in range(0, len(records), FRAME_RECORDS):
            batch = records[start : start + FRAME_RECORDS]
            operator.countOf(map(type, batch), EligibilityUpsert)

    def encode() -> None:
        for start in range(0, len(records), FRAME_RECORDS):
            frames.append(encoder.encode(records[start : start + FRAME_RECORDS]))

    def digest() -> None:
        hasher = hashlib.sha256()
        for frame in frames:
            hasher.update(frame)

    def encrypt() -> None:
        with memoryview(b"".join(frames)) as view:
            for start in range(0, len(view), CHUNK_SIZE):
                sealed.append(aead.encrypt(bytes(12), view[start : start + CHUNK_SIZE], None))

    steps = {
        "slice + type count": timed(slice_and_count),
        "encode": timed(encode),
        "SHA-256": timed(digest),
        "ChaCha20-Poly1305": timed(encrypt),
    }
    with path.open("wb") as handle:
        steps["write"] = timed(lambda: handle.writelines(sealed))
        handle.flush()
        steps["fsync"] = timed(lambda: os.fsync(handle.fileno()))
    path.unlink()
    return steps


def phase(name: str, count: int, folder: Path) -> dict[str, float]:
    """Run one phase in this (fresh) process and report its peak memory."""
    sender, recipient = keys()
    path = folder / f"memory-{name}.bundle"
    baseline_rss = _hwm_mb()
    if name == "baseline":
        encoded = msgspec.msgpack.encode(list(generate(count)))
        msgspec.msgpack.decode(encoded, type=list[EligibilityUpsert])
    elif name == "write":
        write_bundle(
            path,
            kind="eligibility",
            records=generate(count),
            sender=sender,
            recipient=recipient.public(),
            sequence=1,
        )
    elif name == "read":
        write_bundle(
            path,
            kind="eligibility",
            records=generate(count),
            sender=sender,
            recipient=recipient.public(),
            sequence=1,
        )
        # Measure reading alone: reset the high-water mark where the kernel allows it.
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            print(
                "cannot reset the RSS high-water mark; read peak includes writing", file=sys.stderr
            )
        baseline_rss = _hwm_mb()
        tracemalloc.start()
        bundle = open_bundle(path, recipient=recipient, trusted=TrustStore([sender.public()]))
        total = sum(1 for _ in bundle.records())
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert total == count
        return {"start_mb": baseline_rss, "peak_mb": _hwm_mb(), "traced_peak_mb": traced_peak}
    return {"start_mb": baseline_rss, "peak_mb": _hwm_mb()}


def _hwm_mb() -> float:
    # VmHWM honours clear_refs resets, ru_maxrss does not.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phase", choices=["baseline", "write", "read"])
    parser.add_argument("--folder", type=Path)
    options = parser.parse_args()
    if options.phase:
        print(json.dumps(phase(options.phase, options.records, options.folder)))
        return
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as folder_name:
        folder = Path(folder_name)
        figures = speed(options.records, options.runs, folder)
        steps = breakdown(options.records, options.runs, folder)
        memory = {}
        for name in ("baseline", "write", "read"):
            output = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.sync_bundle",
                    "--phase",
                    name,
                    "--records",
                    str(options.records),
                    "--folder",
                    str(folder.resolve()),
                ],
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout
            memory[name] = json.loads(output)
    count = options.records
    print(
        f"records: {count:,}, runs: {options.runs} (median), "
        f"bundle {figures['size'] / 2**20:.1f} MiB"
    )
    for label, key, base in (("write", "write", "base_w"), ("read", "read", "base_r")):
        rate, base_rate = count / figures[key], count / figures[base]
        print(
            f"{label:6} bundle {figures[key]:.3f} s = {rate:,.0f} rec/s | msgspec baseline "
            f"{figures[base]:.3f} s = {base_rate:,.0f} rec/s | ratio {rate / base_rate:.2f}"
        )
    print(
        f"write CPU time (no fsync wait; steadier on a busy machine): bundle "
        f"{figures['write_cpu']:.3f} s | baseline {figures['base_w_cpu']:.3f} s | ratio "
        f"{figures['base_w_cpu'] / figures['write_cpu']:.2f}"
    )
    rate = count / figures["read_records"]
    print(
        f"read via records() iterator: {figures['read_records']:.3f} s = {rate:,.0f} rec/s, "
        f"ratio {rate / (count / figures['base_r']):.2f}"
    )
    print(
        "write steps alone, one thread (ms): "
        + ", ".join(f"{name} {seconds * 1000:.1f}" for name, seconds in steps.items())
        + f"; sum {sum(steps.values()) * 1000:.1f}"
    )
    for name, values in memory.items():
        print(f"peak memory {name:8}: {json.dumps(values)}")


if __name__ == "__main__":
    main()
