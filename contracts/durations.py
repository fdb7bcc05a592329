"""ISO-8601 durations of a contract's SLA (`freshness: P2D`, `PT6H`, `P1W`, `PT90M`).

Years and months are refused: their length varies, and an SLA must mean one span of time.
"""

from __future__ import annotations

import datetime as dt
import re

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
DURATION_PATTERN = r"^P(?=\d|T\d)(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$"
"""The same durations as a JSON Schema pattern (ECMA-262: look-aheads refuse `P` and `PT`)."""
_CALENDAR = re.compile(r"^P(?:\d+Y)?(?:\d+M)?")


def parse_duration(text: str) -> dt.timedelta:
    """`P[nW][nD][T[nH][nM][n[.n]S]]` → timedelta; ValueError saying what is wrong."""
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        calendar = _CALENDAR.match(text)
        if calendar is not None and calendar.group(0) != "P":
            raise ValueError("years and months have no fixed length: use weeks or days")
        raise ValueError("not an ISO-8601 duration such as P2D, PT6H or P1DT12H")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return dt.timedelta(**parts)
