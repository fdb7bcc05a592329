"""Mount the portal inside Airflow 3's API server (`fastapi_apps` of an AirflowPlugin).

Put one line in a file of Airflow's plugins folder (docs/portal.md):

    from exchange.portal.airflow_plugin import GovBusPortalPlugin  # noqa: F401

and the API server serves the portal at `/govbus/` (pages, `/govbus/api/...`,
`/govbus/openapi.json`), with a "GovBus portal" link in Airflow's navigation. The portal
keeps its own tokens (`GOVBUS_PORTAL_TOKENS`) and its own bus settings (`GOVBUS_HOME`,
`GOVBUS_STATE_URL`, `GOVBUS_CATALOG`) from the API server's environment; Airflow's login
does not grant portal roles.

Airflow imports plugins in every process, so building the app must not touch the state
database: the bus opens on the first request. If the tokens are missing or malformed,
importing this module raises the GovBus configuration error; Airflow records it as a
plugin import error (`airflow plugins`, and the UI's plugin errors) and carries on
without the portal. The message names the variable, never a token.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from exchange.portal.app import create_app

URL_PREFIX = "/govbus"


class GovBusPortalPlugin(AirflowPlugin):
    """The GovBus portal as an Airflow plugin."""

    name = "govbus_portal"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "GovBus portal"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {"name": "GovBus portal", "href": f"{URL_PREFIX}/catalog", "destination": "nav", "category": "browse"}
    ]
