"""The sample DAGs under Airflow's CeleryExecutor: two workers on this machine's Redis.

The stack is what `make airflow-celery` starts (`exchange.orchestration.celery_stack`):
API server, DAG processor, scheduler and two Celery workers, Airflow's metadata and the
GovBus state on a fresh PostgreSQL database, stages on an S3-compatible store (moto's
server) that every worker reads. In the middle of the Social Benefits Agency's delivery
— after a batch reached its database and before the ledger recorded it — the worker
running it is killed with its whole process group. The scheduler notices the silent task
(heartbeat timeout), and its retry runs on the other worker: every staged row arrives
exactly once, and the ledger verifies.
"""

from __future__ import annotations

import os
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from exchange import Bus
from exchange.demo import deployment as demo
from exchange.orchestration.celery_stack import CeleryStack, StackConfig
from tests.dags.conftest import GOVBUS, airflow_environ, run
from tests.dags.test_local_executor import _free_port, _fresh_database, _wait_for
from tests.e2e.helpers import benefits_rows

DAGS = ("tax.income", "registry.residents", "benefits.recompute_entitlements")
PAUSED = "benefits.tax-income"  # the delivery whose worker is killed
ROWS = 2_000

# Loaded only by the workers (PYTHONPATH): the first batch of PAUSED that reaches the sink
# holds its worker there, and tells the test which worker that is. Retries do not pause.
SITECUSTOMIZE = textwrap.dedent(
    """
    import importlib.abc, importlib.util, os, sys, time

    MARKER = os.environ["GOVBUS_TEST_PAUSE_MARKER"]
    SUFFIX = "-" + os.environ["GOVBUS_TEST_PAUSE_SUBSCRIPTION"]

    def _pause(batch_id):
        if not batch_id.endswith(SUFFIX):
            return
        try:
            fd = os.open(MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, os.environ.get("GOVBUS_WORKER_NAME", "?").encode())
        os.close(fd)
        time.sleep(900)

    class _PatchBus(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != "exchange.bus":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run_module = spec.loader.exec_module

            def exec_module(module):
                run_module(module)
                bus_open = module.Bus.open.__func__

                def patched(cls, *args, **kwargs):
                    bus = bus_open(cls, *args, **kwargs)
                    bus.hooks.after_sink_write = _pause
                    return bus

                module.Bus.open = classmethod(patched)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _PatchBus())
    """
)


@pytest.fixture
def s3_stages(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """moto's S3 server with a bucket for the stages; the AWS_* variables s3fs reads."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "govbus-ci",
        "AWS_SECRET_ACCESS_KEY": "govbus-ci-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "GOVBUS_STAGING_URL": "s3://govbus-stages/ci",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().makedirs("govbus-stages", exist_ok=True)  # moto's state is per process
    try:
        yield env
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()


@pytest.mark.slow
def test_two_celery_workers_share_deliveries_and_a_killed_one_loses_no_row(
    govbus_home, tmp_path, monkeypatch, s3_stages
):
    logs = tmp_path / "service-logs"
    hook = tmp_path / "worker-site"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marker = tmp_path / "paused-worker"
    with _fresh_database() as url:
        config = StackConfig(
            metadata_url=url,
            broker_url=os.environ.get("GOVBUS_TEST_CELERY_BROKER", "redis://127.0.0.1:6379/0"),
            workers=2,
            concurrency=1,  # one task per worker at a time: the deliveries spread over both
            api_port=_free_port(),
            logs=logs,
            extra_env={
                **s3_stages,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
                "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "300",
                # A killed worker's task is noticed within ~30 s instead of 5 minutes.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                # A queue of this run's own: a leftover message of another run is never taken.
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"govbus-test-{uuid.uuid4().hex[:8]}",
                "GOVBUS_BATCH_SIZE": "500",
            },
            worker_env={
                "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
                "GOVBUS_TEST_PAUSE_MARKER": str(marker),
                "GOVBUS_TEST_PAUSE_SUBSCRIPTION": PAUSED,
            },
        )
        stack = CeleryStack(config, airflow_environ(tmp_path))
        env = stack.environment()
        stack.prepare()
        monkeypatch.setenv("GOVBUS_STATE_URL", config.state_url)
        bus = Bus.open()
        demo.seed(bus, rows=ROWS)
        bus.close()
        engine = sa.create_engine(url)

        def query(sql: str) -> list[tuple]:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql))]

        with stack:
            _wait_for(
                lambda: {r[0] for r in query("SELECT dag_id FROM serialized_dag")} >= set(DAGS),
                "the DAG processor to serialize the sample DAGs",
                240,
                logs,
            )
            pattern = "^(" + "|".join(d.replace(".", r"\.") for d in DAGS) + ")$"
            run([_airflow(), "dags", "unpause", "--treat-dag-id-as-regex", "--yes", pattern], env)
            _wait_for(marker.exists, f"a worker to pause in the delivery {PAUSED}", 300, logs)
            time.sleep(0.5)  # the marker's name is written right after it is created
            killed = marker.read_text()
            assert killed in stack.processes, killed
            stack.kill(killed)

            def finished() -> bool:
                runs = query("SELECT dag_id, state FROM dag_run")
                done = {d for d, s in runs if s in ("success", "failed")}
                return set(DAGS) <= done or any(s == "failed" for _, s in runs)

            _wait_for(finished, "the DAG runs", 420, logs)
            metrics = run([GOVBUS, "metrics"], {**env, "GOVBUS_STATE_URL": config.state_url}).stdout
            verify = run([GOVBUS, "audit", "verify"], {**env, "GOVBUS_STATE_URL": config.state_url})

        runs = query("SELECT dag_id, state FROM dag_run ORDER BY dag_id")
        tis = query(
            "SELECT task_id, rendered_map_index, state, try_number, hostname FROM task_instance"
            " WHERE dag_id = 'tax.income'"
        )
        history = query(
            "SELECT task_id, rendered_map_index, state, try_number, hostname FROM task_instance_history"
            " WHERE dag_id = 'tax.income'"
        )
        engine.dispose()
        state = sa.create_engine(config.state_url)
        with state.connect() as conn:
            staged = conn.execute(
                sa.text("SELECT COALESCE(SUM(rows_staged), 0) FROM stages WHERE dataset = 'tax.income'")
            ).scalar_one()
            statuses = [r[0] for r in conn.execute(sa.text("SELECT DISTINCT status FROM stages"))]
        state.dispose()

    assert runs == [(d, "success") for d in sorted(DAGS)], (tis, history)
    assert statuses == ["committed"]
    # The killed delivery failed on the killed worker and succeeded on the other one.
    paused = [t for t in tis if (t[0], t[1]) == ("deliver", PAUSED)]
    assert len(paused) == 1 and paused[0][2] == "success" and paused[0][3] >= 2, paused
    survivor = paused[0][4]
    assert survivor != killed and survivor in stack.processes
    first_try = [h for h in history if (h[0], h[1]) == ("deliver", PAUSED)]
    assert any(h[4] == killed for h in first_try), first_try
    # The run's deliveries landed on both workers; the stage was written by one and read by both.
    delivered_by = {t[4] for t in tis if t[0] == "deliver"} | {h[4] for h in history if h[0] == "deliver"}
    assert delivered_by == {"worker-1", "worker-2"}, (tis, history)
    # No row lost, none doubled: the benefits database holds each staged row once.
    rows = benefits_rows(govbus_home)
    assert staged > ROWS * 0.9
    assert len(rows) == staged
    assert len({r["return_id"] for r in rows}) == len(rows)
    assert verify.returncode == 0
    # The metrics count what both workers did, from the shared state.
    line = f'govbus_rows_delivered_total{{dataset="tax.income",subscription="{PAUSED}"}} {float(staged)}'
    assert line in metrics, metrics[:3000]
    # The stages lived in the bucket, and commit removed them.
    import s3fs

    left = [p for p in s3fs.S3FileSystem(skip_instance_cache=True).find("govbus-stages/ci") if "/seg-" in p]
    assert left == []
    assert not any((Path(govbus_home) / "staging").rglob("seg-*"))


def _airflow() -> str:
    from tests.dags.conftest import AIRFLOW

    return AIRFLOW
