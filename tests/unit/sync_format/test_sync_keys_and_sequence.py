"""Zone keys, pinning, rotation; sequence decisions."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from sync_format import (
    AppliedMark,
    Incoming,
    KeyFileError,
    Outcome,
    RotationRefused,
    TrustStore,
    ZoneSecretKeys,
    decide,
    fingerprint,
    init_keys,
    load_secret_keys,
    open_bundle,
    read_public_keys,
    read_rotation,
    rotate_keys,
)
from sync_format.keys import PUBLIC_KEYS_FILE, sign_rotation
from tests.unit.sync_format.sync_support import Zones, upserts, write_eligibility


def test_init_writes_private_keys_mode_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    public = init_keys(tmp_path / "k", "issuance")
    for name in ("signing.key", "encryption.key"):
        assert stat.S_IMODE((tmp_path / "k" / name).stat().st_mode) == 0o600
    assert read_public_keys(tmp_path / "k" / PUBLIC_KEYS_FILE) == public
    assert load_secret_keys(tmp_path / "k").public() == public
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        init_keys(tmp_path / "k", "issuance")


def test_group_readable_private_key_is_refused(tmp_path: Path) -> None:
    init_keys(tmp_path, "issuance")
    (tmp_path / "signing.key").chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_secret_keys(tmp_path)


def test_public_keys_file_with_a_wrong_key_id_is_refused(tmp_path: Path) -> None:
    init_keys(tmp_path, "issuance")
    path = tmp_path / PUBLIC_KEYS_FILE
    text = path.read_text()
    key_id = read_public_keys(path).signing_key_id
    path.write_text(text.replace(key_id, "0" * 64))
    with pytest.raises(KeyFileError, match="does not match"):
        read_public_keys(path)


def test_fingerprint_is_eight_groups_of_four() -> None:
    assert fingerprint("ab" * 32) == "ABAB ABAB ABAB ABAB ABAB ABAB ABAB ABAB"


def test_trust_store_pins_and_refuses_silent_replacement(tmp_path: Path) -> None:
    first, second = ZoneSecretKeys.generate("issuance"), ZoneSecretKeys.generate("issuance")
    store = TrustStore([first.public()])
    store.save(tmp_path)
    assert TrustStore.load(tmp_path).signer(first.public().signing_key_id) == first.public()
    with pytest.raises(KeyFileError, match="rotation"):
        store.pin(second.public())


def test_rotation_signed_by_old_and_new_key_is_accepted(zones: Zones, tmp_path: Path) -> None:
    directory = tmp_path / "issuance"
    old_public = init_keys(directory, "issuance")
    store = TrustStore([old_public])
    new_public, statement_path = rotate_keys(directory)
    assert store.accept_rotation(read_rotation(statement_path)) == new_public
    assert store.for_zone("issuance") == new_public
    assert load_secret_keys(directory).public() == new_public


def test_rotation_not_starting_from_the_pinned_key_is_refused() -> None:
    pinned, impostor, new = (ZoneSecretKeys.generate("issuance") for _ in range(3))
    store = TrustStore([pinned.public()])
    with pytest.raises(RotationRefused, match="pinned"):
        store.accept_rotation(sign_rotation(impostor, new))


def test_rotation_with_a_forged_signature_is_refused() -> None:
    old, new = ZoneSecretKeys.generate("issuance"), ZoneSecretKeys.generate("issuance")
    statement = sign_rotation(old, new)
    forged = type(statement)(
        body=statement.body, old_signature=statement.old_signature, new_signature="00" * 64
    )
    with pytest.raises(RotationRefused, match="signatures"):
        TrustStore([old.public()]).accept_rotation(forged)


def test_retired_encryption_key_still_opens_bundles_sent_before_rotation(
    zones: Zones, tmp_path: Path
) -> None:
    directory = tmp_path / "reservation"
    init_keys(directory, "reservation")
    before = Zones(zones.issuance, load_secret_keys(directory))
    path = write_eligibility(tmp_path / "old.bundle", before, upserts(3))
    rotate_keys(directory)
    after = load_secret_keys(directory)
    bundle = open_bundle(path, recipient=after, trusted=before.trusted_by_reservation())
    assert list(bundle.records()) == upserts(3)


ID_A, ID_B = uuid.uuid4(), uuid.uuid4()
MARK = AppliedMark(sequence=5, bundle_id=ID_A, digest="a" * 64)


@pytest.mark.parametrize(
    ("incoming", "last", "force", "outcome"),
    [
        (Incoming(1, ID_B, "b" * 64, "full"), None, False, Outcome.APPLY),
        (Incoming(1, ID_B, "b" * 64, "delta", 0), None, False, Outcome.APPLY),
        (Incoming(3, ID_B, "b" * 64, "delta", 2), None, False, Outcome.GAP_REFUSED),
        (Incoming(6, ID_B, "b" * 64, "delta", 5), MARK, False, Outcome.APPLY),
        (Incoming(9, ID_B, "b" * 64, "full"), MARK, False, Outcome.APPLY),
        (Incoming(5, ID_A, "a" * 64, "delta", 4), MARK, False, Outcome.ALREADY_APPLIED),
        (Incoming(5, ID_B, "b" * 64, "delta", 4), MARK, False, Outcome.CONFLICT),
        (Incoming(5, ID_A, "b" * 64, "full"), MARK, False, Outcome.CONFLICT),
        (Incoming(4, ID_B, "b" * 64, "full"), MARK, False, Outcome.ROLLBACK_REFUSED),
        (Incoming(4, ID_B, "b" * 64, "delta", 3), MARK, True, Outcome.ROLLBACK_REFUSED),
        (Incoming(8, ID_B, "b" * 64, "delta", 7), MARK, False, Outcome.GAP_REFUSED),
        (Incoming(8, ID_B, "b" * 64, "delta", 7), MARK, True, Outcome.APPLY_FORCED_GAP),
        (Incoming(8, ID_B, "b" * 64, "delta", 4), MARK, False, Outcome.GAP_REFUSED),
    ],
)
def test_sequence_decisions(
    incoming: Incoming, last: AppliedMark | None, force: bool, outcome: Outcome
) -> None:
    decision = decide(incoming, last, force_gap=force)
    assert decision.outcome is outcome
    assert decision.should_apply is (outcome in {Outcome.APPLY, Outcome.APPLY_FORCED_GAP})
    assert decision.reason
