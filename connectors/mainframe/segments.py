"""Multi-segment files: a segment-id field says which REDEFINES view each record uses, and
which record is whose parent.

Settings (`segments:` in the contract's `source:`):

    segments:
      field: rec_type              # the column holding the segment id (text or number)
      views:                       # segment id → the REDEFINES view(s) its records use
        C: company                 #   (the item's name, COBOL or snake_case spelling)
        P: [person, person_extra]
      parents: {P: C}              # optional: a child segment's parent segment
      keep: [P]                    # optional: deliver only these segments' records
      unknown: reject              # a record whose id is not in `views`: reject | keep | skip

For each REDEFINES area that a view of `views` belongs to, a record decodes only the
view(s) its id selects; the area's other views are null for it and cannot reject it
(so a company record is never rejected for not being a valid person). Areas no mapped
view belongs to keep the rule of alternative views. `unknown: keep` delivers such a
record with every mapped area null, `skip` leaves it out, `reject` (the default)
quarantines it with "segment id not in the segment map".

`parents` adds the columns `seg_id0`, `seg_id1`, … (one per level of the hierarchy,
computed by `connectors.mainframe.segment_ids`): a record's `seg_id<k>` is the id of its
ancestor at level k (its own at its level) as "<file>:<record number>", null below its
level. A hierarchical export is flattened by
joining children to parents on these ids, or split into datasets with `keep` (one
contract per segment, each over the same files). A child whose parent record is missing
gets null ancestor ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.mainframe.copybook_names import snake
from connectors.mainframe.record_layout import RecordLayout
from govbus.errors import BadConfiguration

UNKNOWN = ("reject", "keep", "skip")
_KEYS = {"field", "views", "parents", "keep", "unknown"}


@dataclass(frozen=True)
class SegmentMap:
    """A validated `segments:` setting (see the module doc)."""

    field: str
    views: Mapping[str, tuple[str, ...]]
    parents: Mapping[str, str]
    keep: tuple[str, ...] | None = None
    unknown: str = "reject"

    @property
    def ids(self) -> tuple[str, ...]:
        """The segment ids, in the order of `views`."""
        return tuple(self.views)

    @property
    def depth(self) -> dict[str, int]:
        """Each segment id's level in the hierarchy (0 for a root)."""
        levels: dict[str, int] = {}
        for sid in self.views:
            seen, current, level = {sid}, sid, 0
            while current in self.parents:
                current = self.parents[current]
                if current in seen:
                    raise BadConfiguration("the parents form a cycle", where="segments.parents")
                seen.add(current)
                level += 1
            levels[sid] = level
        return levels

    @property
    def id_columns(self) -> tuple[str, ...]:
        """The seg_id<k> columns the hierarchy adds (none without `parents`)."""
        if not self.parents:
            return ()
        return tuple(f"seg_id{k}" for k in range(max(self.depth.values()) + 1))

    def active(self, layout: RecordLayout, ids: pa.Array) -> dict[str, np.ndarray]:
        """Per view of a mapped area: the records that use it (by their decoded ids)."""
        index = segment_index(ids, self)
        mapped_areas = {f.area for f in layout.fields if f.view in self.all_views and f.area is not None}
        result: dict[str, np.ndarray] = {}
        for area in mapped_areas:
            for view in layout.overlay_tree[area].views:
                chosen = [k for k, sid in enumerate(self.ids) if view in self.views[sid]]
                result[view] = np.isin(index, chosen)
        return result

    @property
    def all_views(self) -> set[str]:
        """Every view some segment id selects."""
        return {v for views in self.views.values() for v in views}


def segment_map(settings: Any, layout: RecordLayout) -> SegmentMap | None:
    """The `segments` setting checked against the layout (None when absent)."""
    if settings is None:
        return None
    if not isinstance(settings, Mapping) or not set(settings) <= _KEYS:
        raise BadConfiguration(f"must be a mapping of {', '.join(sorted(_KEYS))}", where="segments")
    field = settings.get("field")
    if not isinstance(field, str) or field not in layout.names:
        raise BadConfiguration("must name a field of the copybook", where="segments.field")
    if layout.field(field).table is not None or any(
        t.offset < layout.field(field).offset for t in layout.tables
    ):
        raise BadConfiguration(
            "the segment field must come before any OCCURS DEPENDING ON", where="segments.field"
        )
    known = {f.view for f in layout.fields if f.view is not None}
    raw_views = settings.get("views")
    if not isinstance(raw_views, Mapping) or not raw_views:
        raise BadConfiguration("must map each segment id to a REDEFINES view", where="segments.views")
    views: dict[str, tuple[str, ...]] = {}
    for sid, names in raw_views.items():
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            raise BadConfiguration("must be a view name or a list of them", where=f"segments.views.{sid}")
        chosen = tuple(snake(v) for v in names)
        for view in chosen:
            if view not in known:
                raise BadConfiguration(
                    "names no REDEFINES view of the copybook", where=f"segments.views.{sid}",
                    hint="views: " + ", ".join(sorted(known)) if known else "the copybook has no REDEFINES",
                )  # fmt: skip
        views[str(sid)] = chosen
    parents = settings.get("parents") or {}
    if not isinstance(parents, Mapping) or not all(
        str(k) in views and str(v) in views for k, v in parents.items()
    ):
        raise BadConfiguration("must map segment ids to segment ids of views", where="segments.parents")
    keep = settings.get("keep")
    if keep is not None and (not isinstance(keep, list) or not all(str(k) in views for k in keep)):
        raise BadConfiguration("must be a list of segment ids of views", where="segments.keep")
    unknown = settings.get("unknown", "reject")
    if unknown not in UNKNOWN:
        raise BadConfiguration(f"must be one of {', '.join(UNKNOWN)}", where="segments.unknown")
    found = SegmentMap(
        field, views, {str(k): str(v) for k, v in parents.items()},
        None if keep is None else tuple(str(k) for k in keep), unknown,
    )  # fmt: skip
    found.depth  # noqa: B018 - refuses cyclic parents now
    clash = set(found.id_columns) & set(layout.names)
    if clash:
        raise BadConfiguration(
            "the copybook already has a field named " + min(clash), where="segments.parents"
        )
    return found


def segment_index(ids: pa.Array, segments: SegmentMap) -> np.ndarray:
    """Per record: the index of its id in `segments.ids`, or -1 (unknown or null)."""
    text = ids if pa.types.is_string(ids.type) else ids.cast(pa.string())
    text = pc.utf8_trim_whitespace(text)
    index = pc.index_in(text, value_set=pa.array(segments.ids, pa.string()))
    return pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64)
