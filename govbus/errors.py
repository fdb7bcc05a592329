"""The exception tree: one root, four branches a caller can act on.

* `BadInput`: the data is wrong (a malformed file, record or argument). Fix the input;
  nothing was lost (bad records are quarantined, not dropped).
* `BadConfiguration`: a setting, catalog entry or environment variable is wrong. Fix it
  and rerun; the message names the file and field.
* `TransientError`: a system was unreachable or busy. Retrying later is the remedy; the
  orchestrator (Airflow, `govbus run`) may retry automatically.
* `FatalError`: an invariant broke (tampered ledger, corrupted state). Stop and call an
  operator; do not retry blindly.

Messages never carry a raw identifier, a personal value or a secret: they say what,
where (file, line, field, dataset, batch id) and what to do.
"""

from __future__ import annotations


class GovBusError(Exception):
    """Root of every error GovBus raises on purpose.

    `where` names the file, field, dataset or batch the error is about; `hint` says what
    the user should do. Both are shown by the command line next to the message.
    """

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class BadInput(GovBusError):
    """The data or an argument is malformed; fix it at its source."""

    exit_code = 65  # EX_DATAERR


class BadConfiguration(GovBusError):
    """A setting, catalog entry or environment variable is wrong or missing."""

    exit_code = 78  # EX_CONFIG


class TransientError(GovBusError):
    """A system is unreachable or busy; the same call may succeed later."""

    exit_code = 75  # EX_TEMPFAIL


class FatalError(GovBusError):
    """An invariant broke (tampering, corrupted state): stop and investigate."""

    exit_code = 70  # EX_SOFTWARE
