"""GovBus kernel: the one exception root every part raises from.

The kernel sits below every part of the architecture (docs/architecture.md) so that
`connectors`, `schemas`, `contracts`, `consent` and `exchange` can all raise errors a
caller catches with one `except GovBusError`, without importing one another.
"""

from __future__ import annotations

from govbus.errors import (
    BadConfiguration,
    BadInput,
    FatalError,
    GovBusError,
    TransientError,
)

__all__ = ["BadConfiguration", "BadInput", "FatalError", "GovBusError", "TransientError"]
