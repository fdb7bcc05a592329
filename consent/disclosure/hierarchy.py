"""Generalization hierarchies from the catalog: a code to its coarser level (municipality → region).

`catalog/hierarchies/<name>.yaml`:

```yaml
name: region
description: The country's regions; a municipality is in the region of its code's prefix.
prefixes:            # the longest listed prefix of a value decides
  "0": NORTH
  "1": EAST
default: UNKNOWN     # a value no prefix matches (optional; else it stays null)
```

Why prefixes: administrative codes are hierarchical by construction (NUTS, FIPS, INSEE),
so a few lines describe thousands of codes, and mapping a column is one vectorized
lookup per prefix length — no per-row Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from govbus.errors import GovBusError
from govbus.yamlfile import MarkedDict, load_marked

__all__ = ["Hierarchy", "load_hierarchy"]


@dataclass(frozen=True)
class Hierarchy:
    """One level up: each listed prefix of a value's text to the coarser value."""

    name: str
    prefixes: Mapping[str, str] = field(compare=False)
    default: str | None = None
    description: str = ""

    def apply(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Every value mapped to its coarser level (text); the longest listed prefix wins.

        The mapping runs on the column's distinct values (a few thousand codes), then one
        `take` spreads it over the rows.
        """
        column = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        encoded = pc.dictionary_encode(column)
        return pc.take(self._map(pc.cast(encoded.dictionary, pa.string())), encoded.indices)

    def _map(self, text: pa.Array) -> pa.Array:
        result = pa.nulls(len(text), pa.string())
        for length in sorted({len(p) for p in self.prefixes}):  # longer prefixes overwrite shorter
            keys = [p for p in self.prefixes if len(p) == length]
            head = pc.utf8_slice_codeunits(text, 0, length)
            position = pc.index_in(head, value_set=pa.array(keys, pa.string()))
            mapped = pc.take(pa.array([self.prefixes[k] for k in keys], pa.string()), position)
            result = pc.if_else(pc.is_valid(mapped), mapped, result)
        if self.default is not None:
            result = pc.if_else(pc.and_(pc.is_null(result), pc.is_valid(text)), self.default, result)
        return result


def load_hierarchy(path: Path) -> Hierarchy:
    """A hierarchy file; ValueError saying what is wrong (with the file's line where known)."""
    try:
        doc = load_marked(path)
    except GovBusError as exc:
        raise ValueError(f"{path.name}: {exc.message}") from None
    if not isinstance(doc, MarkedDict) or not isinstance(doc.get("prefixes"), Mapping) or not doc["prefixes"]:
        raise ValueError(f"{path.name}: must have `prefixes:` mapping code prefixes to coarser values")
    prefixes = doc["prefixes"]
    bad = [k for k, v in prefixes.items() if not isinstance(k, str) or not k or not isinstance(v, str)]
    if bad:
        line = doc.line_of("prefixes")
        raise ValueError(f"{path.name}:{line}: prefixes must be quoted texts mapped to texts ({bad[0]!r})")
    default = doc.get("default")
    if default is not None and not isinstance(default, str):
        raise ValueError(f"{path.name}:{doc.line_of('default')}: default must be a text")
    name = doc.get("name", path.stem)
    if name != path.stem:
        raise ValueError(f"{path.name}:{doc.line_of('name')}: name must equal the file's name {path.stem!r}")
    return Hierarchy(str(name), dict(prefixes), default, str(doc.get("description", "")))
