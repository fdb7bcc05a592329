"""A bus process moves data without pandas, yet pandas works for whoever asks for it
(exchange/ops/pandas_on_demand.py); each case in a fresh interpreter, as the finder is
installed once per process and the test process has pandas loaded already."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.ops.pandas_on_demand import GOVBUS_PACKAGES
from tests.conftest import REPO

RUN = """
import json, sys
from exchange import Bus
from exchange.demo import deployment as demo
bus = Bus.open()
demo.seed(bus, rows=1400)
(report,) = bus.run(["tax.income"])
assert not report.failures, report.failures
print(json.dumps({"pandas": "pandas" in sys.modules, "modules": len(sys.modules),
                  "delivered": sum(d.rows_delivered for d in report.deliveries.values())}))
"""

AFTER = """
import json, sys
import numpy as np, pyarrow as pa
from exchange import Bus
from exchange.ops import load_pandas_on_demand
bus = Bus.open()
installed = load_pandas_on_demand()  # again: idempotent
before = "pandas" in sys.modules
import contracts
contracts.encode_keys([pa.array(np.arange(5)), pa.array(["a", "b", None, "d", "e"])])  # in GovBus code
still_out = "pandas" in sys.modules
{user}
print(json.dumps({{"installed": installed, "before": before, "still_out": still_out, **found}}))
"""

# What a connector's own code does with pandas once it imports it: pyarrow's pandas support
# is back (NaN as null, categoricals as dictionaries), and to_pandas works.
USER_IMPORTS = """
import pandas as pd
series = pd.Series([1.5, None, 3.0])
found = {"nulls": pa.array(series).null_count,
         "categorical": str(pa.array(pd.Series(["a", "b"], dtype="category")).type),
         "round_trip": pa.table({"x": [1, 2]}).to_pandas()["x"].tolist()}
"""
USER_IMPORT_MODULE = """
import importlib
pd = importlib.import_module("pandas")
found = {"nulls": pa.array(pd.Series([1.5, None])).null_count, "categorical": "", "round_trip": []}
"""
# pyarrow importing pandas for code outside GovBus: this test's frame, here.
USER_TO_PANDAS = """
frame = pa.table({"x": [1, 2]}).to_pandas()
found = {"nulls": pa.array(__import__("pandas").Series([1.5, None])).null_count, "categorical": "",
         "round_trip": frame["x"].tolist()}
"""


def _run(code: str, home: Path, *, extra: str = "") -> dict[str, object]:
    env = {**os.environ, "GOVBUS_HOME": str(home)}
    env.pop("GOVBUS_STATE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", extra + code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_whole_run_stages_and_delivers_without_loading_pandas(govbus_home: Path) -> None:
    found = _run(RUN, govbus_home)
    assert found["delivered"] > 0
    assert found["pandas"] is False


def test_without_the_finder_the_same_run_loads_pandas(govbus_home: Path) -> None:
    # the control: pyarrow does import pandas on its own, so the test above can fail
    stub = "import exchange.ops.pandas_on_demand as p; p.load_pandas_on_demand = lambda: False\n"
    found = _run(RUN.replace("from exchange import Bus\n", f"{stub}from exchange import Bus\n"), govbus_home)
    assert found["pandas"] is True


@pytest.mark.parametrize("user", [USER_IMPORTS, USER_IMPORT_MODULE, USER_TO_PANDAS])
def test_code_that_asks_for_pandas_gets_all_of_it(govbus_home: Path, user: str) -> None:
    found = _run(AFTER.format(user=user), govbus_home)
    assert found["installed"] is True
    assert found["before"] is False and found["still_out"] is False
    assert found["nulls"] == 1  # pyarrow's pandas support is on again: NaN is null
    if user is USER_IMPORTS:
        assert found["categorical"].startswith("dictionary<")
        assert found["round_trip"] == [1, 2]
    if user is USER_TO_PANDAS:
        assert found["round_trip"] == [1, 2]


def test_a_process_that_loaded_pandas_first_is_left_alone(govbus_home: Path) -> None:
    code = AFTER.format(user='found = {"nulls": pa.array(pd.Series([1.5, None])).null_count}')
    found = _run(code, govbus_home, extra="import pandas as pd\n")
    assert found["installed"] is False
    assert found["nulls"] == 1


def test_govbus_code_never_asks_pyarrow_for_pandas() -> None:
    # The finder refuses pandas to pyarrow when GovBus's frame is the nearest: a to_pandas()
    # or from_pandas() in GovBus code would fail in a bus process (the module doc says so).
    calls = re.compile(r"\.(to_pandas|from_pandas)\(|pandas_api|\.to_pandas_dtype\(")
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for package in GOVBUS_PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path.name != "pandas_on_demand.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if calls.search(line)
    ]
    assert found == []
