"""What every converter of `schemas.value_casts` and `schemas.temporal_casts` shares:
the whole-column safe cast with a fallback, and casting only the values a mask keeps."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class NoConversion(Exception):
    """Raised by a converter when the source type cannot become the target type at all."""


def try_cast(arr: pa.Array, target: pa.DataType, fallback: Callable[[], pa.Array] | None) -> pa.Array:
    """The whole-column safe cast; on failure the fallback (or NoConversion)."""
    try:
        return pc.cast(arr, target, safe=True)
    except CAST_ERRORS as exc:
        if fallback is None:
            raise NoConversion from exc
        return fallback()


def keep_valid(arr: pa.Array, valid: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast only the values where `valid` holds; the others become null."""
    return pc.cast(pc.if_else(pc.fill_null(valid, False), arr, None), target, safe=True)
