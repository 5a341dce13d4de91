"""Properties: every changed byte and every truncation is refused; noise raises only ours."""

from __future__ import annotations

from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_format import SyncFormatError, Truncated, inspect_bundle, open_bundle
from sync_format.header import MAGIC, PRELUDE
from tests.unit.sync_format.sync_support import Zones

SHARED = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _refused(path: Path, zones: Zones) -> SyncFormatError:
    try:
        bundle = open_bundle(
            path, recipient=zones.reservation, trusted=zones.trusted_by_reservation()
        )
        list(bundle.records())
    except SyncFormatError as error:
        return error
    raise AssertionError("the bundle was accepted")


@SHARED
@given(data=st.data())
def test_any_single_byte_change_is_refused(
    zones: Zones, small_bundle: bytes, scratch: Path, data: st.DataObject
) -> None:
    _major, header_length, padding = PRELUDE.unpack_from(small_bundle, len(MAGIC))
    header_end = len(MAGIC) + PRELUDE.size + header_length + padding + 64
    # Half the examples hit the envelope, which is small but where most parsing happens.
    limit = data.draw(st.sampled_from([header_end, len(small_bundle)]))
    position = data.draw(st.integers(0, limit - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(small_bundle)
    changed[position] ^= flip
    scratch.write_bytes(changed)
    _refused(scratch, zones)


@SHARED
@given(length=st.integers(min_value=0))
def test_any_truncation_is_refused_as_truncated(
    zones: Zones, small_bundle: bytes, scratch: Path, length: int
) -> None:
    scratch.write_bytes(small_bundle[: length % len(small_bundle)])
    assert isinstance(_refused(scratch, zones), Truncated)


@SHARED
@given(
    noise=st.binary(max_size=3000),
    prefix=st.sampled_from([b"", MAGIC, MAGIC + b"\x00\x01"]),
)
def test_random_bytes_raise_only_sync_format_errors(
    zones: Zones, scratch: Path, noise: bytes, prefix: bytes
) -> None:
    scratch.write_bytes(prefix + noise)
    _refused(scratch, zones)
    report = inspect_bundle(scratch, zones.trusted_by_reservation(), zones.reservation)
    assert report.error is not None


@SHARED
@given(
    fields=st.dictionaries(
        st.text(max_size=20), st.integers(-(2**63), 2**63 - 1) | st.text() | st.none()
    )
)
def test_random_signed_looking_headers_raise_only_sync_format_errors(
    zones: Zones, scratch: Path, fields: dict[str, object]
) -> None:
    header = msgspec.msgpack.encode(fields)
    scratch.write_bytes(MAGIC + PRELUDE.pack(1, len(header), 0) + header + bytes(64))
    _refused(scratch, zones)
