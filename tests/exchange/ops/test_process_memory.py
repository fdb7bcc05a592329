"""A bus process allocates through the system allocator and two malloc arenas, unless the
operator chose otherwise (exchange/ops/process_memory.py); each case in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, threading
import pyarrow as pa
from exchange import Bus
import gc
bus = Bus.open()
frozen = gc.get_freeze_count()
from exchange.ops import tune_process_memory
done = tune_process_memory()
# threads allocating at once still work under the cap
def work():
    for _ in range(20):
        assert len(pa.array(range(20_000)).cast(pa.string())) == 20_000
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
bus.close()
from exchange.ops import release_free_memory
from exchange.ops.process_memory import TRIM_EVERY
def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20
# 200 MiB in 1 KiB chunks, every 64th kept: free holes in the heap that free() keeps
chunks = [bytes(1024) for _ in range(200_000)][::64]
held = resident_mib()
skipped = release_free_memory(TRIM_EVERY + 1)
trimmed = release_free_memory(TRIM_EVERY)
print(json.dumps({"pool": pa.default_memory_pool().backend_name, "capped": done.arenas_capped,
                  "tuned_pool": done.arrow_pool, "skipped": skipped, "trimmed": trimmed,
                  "released_mib": held - resident_mib(), "frozen": frozen}))
"""


def _probe(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def env(govbus_home: Path) -> dict[str, str]:
    chosen = ("ARROW_DEFAULT_MEMORY_POOL", "MALLOC_ARENA_MAX", "GOVBUS_MEMORY_TUNING")
    return {k: v for k, v in os.environ.items() if k not in chosen}


def test_a_bus_uses_the_system_pool_and_caps_the_arenas(env: dict[str, str]) -> None:
    got = _probe(env)
    released = got.pop("released_mib")
    assert got.pop("frozen") > 10_000, "the imports' objects stay in the collector's sight"
    expected = {"pool": "system", "capped": True, "tuned_pool": "system", "skipped": False, "trimmed": True}
    assert got == expected
    assert released > 100, "the free holes of 200 MiB of chunks stayed resident"


def test_the_operators_choice_is_kept(env: dict[str, str]) -> None:
    got = _probe({**env, "ARROW_DEFAULT_MEMORY_POOL": "jemalloc", "MALLOC_ARENA_MAX": "4"})
    assert {k: got[k] for k in ("pool", "capped", "tuned_pool")} == {
        "pool": "jemalloc",
        "capped": False,
        "tuned_pool": "jemalloc",
    }


def test_tuning_can_be_turned_off(env: dict[str, str]) -> None:
    got = _probe({**env, "GOVBUS_MEMORY_TUNING": "off"})
    assert got["capped"] is False and got["pool"] == got["tuned_pool"] != "system"
    assert got["trimmed"] is False and got["frozen"] == 0
