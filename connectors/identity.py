"""The applicant's identity, reduced at the edge to what matching needs: a salted hash.

Fingerprint matching (procedure, receipt date, applicant) needs to know that two records name the
same applicant, never who the applicant is. The connectors hash the ID number with a secret salt
(`reconcile.identity_salt`) as soon as a record is read; the raw number is never stored or logged.
Placeholders that systems put where data is missing ("000000001", all zeros, too short) hash to
"" so that they never make two different dossiers look alike.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
MIN_LENGTH = 8


def identity_hash(id_number: object, salt: str) -> str:
    """HMAC-SHA256 of the normalised ID number (hex, 32 chars), or "" if it identifies nobody."""
    if not isinstance(id_number, str | int) or isinstance(id_number, bool):
        return ""
    normalised = _NOT_ALNUM.sub("", str(id_number).upper())
    digits = normalised.lstrip("0")
    if len(normalised) < MIN_LENGTH or len(digits) <= 1 or len(set(normalised)) == 1:
        return ""
    return hmac.new(salt.encode(), normalised.encode(), hashlib.sha256).hexdigest()[:32]
