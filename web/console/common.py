"""What every console page shares: access declarations, names of phases, the page itself."""

from __future__ import annotations

from typing import Any, Final

from litestar.response import Template

from api.issuance.progress.rules import Action, Phase
from api.issuance.progress.schemas import ProgressReport
from api.issuance.progress.services import ProgressRefused
from web.i18n import N_, Text
from web.resident.pages import page

PHASE_NAMES: Final = {
    Phase.IMPORTED.value: Text(N_("Imported (no pre-issuance setup yet)")),
    Phase.PRESETUP_DONE.value: Text(N_("Pre-issuance setup done")),
    Phase.NOTICE_SENT.value: Text(N_("Notice letter sent")),
    Phase.RESERVED.value: Text(N_("Booked")),
    Phase.ISSUED.value: Text(N_("Issued")),
    Phase.RETURNED.value: Text(N_("Returned")),
    Phase.CANCELLED.value: Text(N_("Cancelled")),
    Phase.EXPIRED.value: Text(N_("Expired")),
}
ATTENDANCE_NAMES: Final = {
    "arrived": Text(N_("Arrived")),
    "no_show": Text(N_("No-show")),
    "issued": Text(N_("Issued")),
}
# What staff may record by hand on one card (the API's StaffAction), in the card's order.
STAFF_ACTIONS: Final = {
    Action.PRESETUP_DONE.value: Text(N_("Pre-issuance setup done")),
    Action.PRESETUP_FAILED.value: Text(N_("Pre-issuance setup failed")),
    Action.NOTICE_PRINTED.value: Text(N_("Notice letter printed")),
    Action.ISSUED.value: Text(N_("Issued")),
    Action.RETURNED.value: Text(N_("Returned")),
    Action.CANCELLED.value: Text(N_("Cancelled")),
    Action.EXPIRED.value: Text(N_("Expired")),
}


REFUSAL_NAMES: Final = {
    "final_phase": Text(
        N_(
            "The card is in a final state (issued, returned, cancelled or expired): "
            "nothing more can be recorded."
        )
    ),
    "presetup_not_done": Text(
        N_("Pre-issuance setup is not recorded yet: the card cannot be handed over yet.")
    ),
    "presetup_already_done": Text(N_("Pre-issuance setup is already recorded for this card.")),
    "not_reserved": Text(N_("The card is not booked.")),
    "illegal_transition": Text(N_("This step does not follow from the card's present state.")),
    "unknown_reservation_id": Text(N_("No card has this reservation ID.")),
}


def refusal_texts(refused: ProgressRefused) -> list[Text]:
    """Why each change of a refused batch was refused, in the staff's words."""
    report: ProgressReport = refused.details
    return [
        REFUSAL_NAMES.get(item.code, Text(N_("Refused: %(reason)s"), {"reason": item.reason}))
        for item in report.refused
    ]


def console_page(template: str, status_code: int = 200, **context: Any) -> Template:
    """A console page: the shared ``page`` with the names of phases, marks and actions."""
    return page(
        template,
        status_code,
        phase_names=PHASE_NAMES,
        attendance_names=ATTENDANCE_NAMES,
        staff_actions=STAFF_ACTIONS,
        **context,
    )
