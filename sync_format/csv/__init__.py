"""CSV codecs of the sync format: カード発行一覧CSV, progress results and 予約一覧CSV."""

from sync_format.csv.card_list import (
    CardListResult,
    CardListRow,
    CardListStream,
    Sex,
    iter_card_list,
    read_card_list,
)
from sync_format.csv.card_list_writer import (
    CardListWriter,
    card_list_cells,
    card_list_headers,
    open_card_list_writer,
    write_card_list,
)
from sync_format.csv.dates import DateStyle, format_date, parse_date
from sync_format.csv.problems import Problem, ProblemCode
from sync_format.csv.profile import (
    CardListProfile,
    ProfileError,
    bundled_profile,
    default_profile,
    load_profile,
    parse_profile,
)
from sync_format.csv.progress import (
    IssuedResult,
    PresetupResult,
    ProgressResult,
    ProgressRow,
    read_issued_results,
    read_presetup_results,
)
from sync_format.csv.reservation_list import (
    Channel,
    ReservationListResult,
    ReservationListRow,
    ReservationStatus,
    neutralize_cell,
    read_reservation_list,
    restore_cell,
    write_reservation_list,
)

__all__ = [
    "CardListProfile",
    "CardListResult",
    "CardListRow",
    "CardListStream",
    "CardListWriter",
    "Channel",
    "DateStyle",
    "IssuedResult",
    "PresetupResult",
    "Problem",
    "ProblemCode",
    "ProfileError",
    "ProgressResult",
    "ProgressRow",
    "ReservationListResult",
    "ReservationListRow",
    "ReservationStatus",
    "Sex",
    "bundled_profile",
    "card_list_cells",
    "card_list_headers",
    "default_profile",
    "format_date",
    "iter_card_list",
    "load_profile",
    "neutralize_cell",
    "open_card_list_writer",
    "parse_date",
    "parse_profile",
    "read_card_list",
    "read_issued_results",
    "read_presetup_results",
    "read_reservation_list",
    "restore_cell",
    "write_card_list",
    "write_reservation_list",
]
