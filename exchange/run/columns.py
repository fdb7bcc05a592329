"""Column names the steps add to staged and delivered batches (one definition for every room).

Neither is a field of any dataset's schema: contracts cannot declare names that start
with an underscore, and `subject_pseudonym` is reserved by the catalog loader.
"""

from __future__ import annotations

__all__ = ["PSEUDONYM_COLUMN", "SUBJECT_REF_COLUMN"]

PSEUDONYM_COLUMN = "subject_pseudonym"

# Staged segments carry each row's audit pseudonym (HMAC under the audit key) as 32 raw
# bytes (ADR 0008), computed once at stage time for consent decisions and the access
# index; it never leaves.
SUBJECT_REF_COLUMN = "_subject_ref"
