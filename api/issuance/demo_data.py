"""Deterministic, clearly fictional residents and card lists for demos, tests and benchmarks.

Every address is in the fictional 見本県デモ市 and every postal code is ``000-NNNN``, a
range Japan Post does not use; IDs are random digits. Names come from Faker's ja_JP
lists, so they look real, but nothing ties them to a real person.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Iterator
from typing import BinaryIO

import msgspec
from faker import Faker

from sync_format.csv.card_list import CardListRow, Sex
from sync_format.csv.card_list_writer import open_card_list_writer
from sync_format.csv.dates import DateStyle, format_date
from sync_format.csv.normalize import has_private_use

DEMO_PREFECTURE_CITY = "見本県デモ市"
DEMO_POSTAL_PREFIX = "000"  # Japan Post assigns no postal code starting with 000.
DEMO_DISTRICTS = (
    "見本町",
    "試験台",
    "架空が丘",
    "仮名川",
    "模擬野",
    "練習通",
    "例示原",
    "演習坂",
)
DEMO_BUILDINGS = ("デモハイツ", "見本コーポ", "サンプル荘", "テストレジデンス")
GAIJI_FIRST = 0xE000  # First private-use code point; CP932 maps it to its 外字 area.
GAIJI_RATE = 0.005
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_SPACE = 36**3 * 10**6  # every possible reservation_id
# A prime multiplier is coprime with 36**3 * 10**6 (= 2**12 * 3**6 * 5**6), so
# index → (index * multiplier + offset) mod space is a bijection: IDs never repeat.
_ID_MULTIPLIER = 2_654_435_761
_DATE_STYLES = tuple(DateStyle)
_FULL_WIDTH_DIGITS = {ord("0") + digit: 0xFF10 + digit for digit in range(10)}
_POOL_SIZE = 400


class DemoResident(msgspec.Struct, frozen=True, kw_only=True):
    """A synthetic resident: the row as the reader returns it, and its birth date as written."""

    row: CardListRow
    birth_date_text: str


def _encodable(text: str) -> bool:
    try:
        text.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


class _NamePools(msgspec.Struct, frozen=True):
    last: list[tuple[str, str]]
    male: list[tuple[str, str]]
    female: list[tuple[str, str]]


def _name_pools(seed: int) -> _NamePools:
    # Faker is slow per call; draw pools once, then pick from them with random.Random.
    faker = Faker("ja_JP")
    faker.seed_instance(seed)

    def pool(draw: str) -> list[tuple[str, str]]:
        pairs = {tuple(getattr(faker, draw)()[:2]) for _ in range(_POOL_SIZE)}
        return sorted((name, kana) for name, kana in pairs if _encodable(name + kana))

    return _NamePools(
        last=pool("last_name_pair"),
        male=pool("first_name_male_pair"),
        female=pool("first_name_female_pair"),
    )


def demo_reservation_id(index: int, offset: int) -> str:
    """Return the ``index``-th reservation ID of a run; distinct for distinct indexes."""
    number = (index * _ID_MULTIPLIER + offset) % _ID_SPACE
    prefix_number, digits = divmod(number, 10**6)
    prefix = ""
    for _ in range(3):
        prefix_number, remainder = divmod(prefix_number, 36)
        prefix = _ALPHABET[remainder] + prefix
    return f"{prefix}-{digits:06d}"


def _written_birth_date(rng: random.Random, birth_date: dt.date) -> str:
    text = format_date(birth_date, rng.choice(_DATE_STYLES))
    if rng.random() < 0.1:
        text = text.translate(_FULL_WIDTH_DIGITS)  # as some vendors' exports have it
    return text


def iter_residents(count: int, seed: int = 0) -> Iterator[DemoResident]:
    """Yield ``count`` synthetic residents; the same seed always gives the same residents.

    Rows carry ``line = index + 2``: their line in a card list written in this order.
    """
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
    pools = _name_pools(seed)
    id_offset = rng.randrange(_ID_SPACE)
    first_day = dt.date(1930, 1, 1).toordinal()
    birth_span = dt.date(2024, 12, 31).toordinal() - first_day
    expiry_start = dt.date(2030, 1, 1).toordinal()
    for index in range(count):
        sex = Sex.MALE if rng.random() < 0.5 else Sex.FEMALE
        last_name, last_kana = rng.choice(pools.last)
        first_name, first_kana = rng.choice(pools.male if sex is Sex.MALE else pools.female)
        if rng.random() < GAIJI_RATE:
            # A 外字: the last character of the given name is one the national character
            # set lacks; staff map it through the substitution table.
            first_name = first_name[:-1] + chr(GAIJI_FIRST + rng.randrange(16))
        birth_date = dt.date.fromordinal(first_day + rng.randrange(birth_span))
        address = (
            f"{DEMO_PREFECTURE_CITY}{rng.choice(DEMO_DISTRICTS)}{rng.randint(1, 9)}丁目"
            f"{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
        )
        if rng.random() < 0.3:
            address += f" {rng.choice(DEMO_BUILDINGS)}{rng.randint(101, 909)}"
        row = CardListRow(
            line=index + 2,
            reservation_id=demo_reservation_id(index, id_offset),
            application_id=f"{rng.randrange(10**23):023d}",
            shipment_no=f"{rng.randrange(10**13):013d}",
            name=f"{last_name}\u3000{first_name}",
            name_kana=f"{last_kana}\u3000{first_kana}",
            birth_date=birth_date,
            sex=sex,
            postal_code=f"{DEMO_POSTAL_PREFIX}-{rng.randrange(10_000):04d}",
            address=address,
            address_extra=f"{rng.randint(1, 20)}階" if rng.random() < 0.15 else "",
            certificate_signature=rng.random() < 0.9,
            certificate_authentication=rng.random() < 0.98,
            card_expiry=dt.date.fromordinal(expiry_start + rng.randrange(3650)),
            has_gaiji=has_private_use(first_name),
        )
        yield DemoResident(row=row, birth_date_text=_written_birth_date(rng, birth_date))


def generate_residents(count: int, seed: int = 0) -> list[DemoResident]:
    """Return ``count`` synthetic residents (see ``iter_residents``)."""
    return list(iter_residents(count, seed))


def write_demo_card_list(
    path: str | os.PathLike[str] | BinaryIO,
    count: int,
    seed: int = 0,
    encoding: str = "cp932",
) -> int:
    """Write a card list of ``count`` synthetic residents, streaming; returns the row count.

    ``encoding`` is ``cp932``, ``utf-8`` or ``utf-8-sig``. Birth dates are written in
    varied forms (ISO, slashes, 和暦, era letters, era codes, some with full-width digits).
    """
    with open_card_list_writer(path, encoding=encoding) as writer:
        for resident in iter_residents(count, seed):
            writer.write(resident.row, birth_date_text=resident.birth_date_text)
        return writer.rows_written
