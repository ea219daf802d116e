"""The seam for the online check-in (seats, signed answers, a revocation list), which the
license server does not offer yet. Nothing here talks to a network.

When it lands, its client side plugs in here: an object with a ``review`` method, passed as
``check_in=`` to :func:`datatools_license.load_license` or
:class:`datatools_license.LicenseClient`. The offline check runs first, exactly as now; a usable
answer is then handed to ``review``, which may keep it (return None) or refuse it (return
``status.refused(code, reason, message)``, which enables nothing). It can take away, never
give: a usable answer it returns in place of the one it was given is ignored, so a check-in
cannot unlock what the signed blob does not. Whatever it relies on (a revocation list, a signed
seat answer) must be verified with the same trusted keys (``ring``), as the blob is, and it
decides for itself how long a cached answer stays good while the server cannot be reached, so
that an app keeps working offline.
"""

from __future__ import annotations

from typing import Optional, Protocol

from .check import LicenseStatus
from .keys import KeyRing


class CheckIn(Protocol):
    """What an online check-in gives the offline check."""

    def review(self, status: LicenseStatus, ring: KeyRing, now_ms: int) -> Optional[LicenseStatus]:
        """Called with a usable offline answer (``active`` or ``expiring``), the trusted keys
        and the clock reading of the check, in milliseconds since the epoch. Returns None to
        keep the answer, or ``status.refused(...)`` to refuse it."""
        ...


def apply_check_in(
    check_in: Optional[CheckIn], status: LicenseStatus, ring: KeyRing, now_ms: int
) -> LicenseStatus:
    """The offline answer after ``check_in`` reviewed it; only a usable answer is reviewed, and
    only a refusal replaces it."""
    if check_in is None or not status.usable:
        return status
    reviewed = check_in.review(status, ring, now_ms)
    if reviewed is None or reviewed.usable:
        return status
    return reviewed
