"""The static HTML page of a run's validation report (a Jinja2 template, autoescaped).

Kept as a string in the package (no template files to ship): `render(result)` takes the
GX-shaped dict `contracts.validation_result` builds and lays out what GX's Data Docs
show for a validation — overall verdict, statistics, one row per expectation with its
counts and percentages — plus the run's quarantine and SLA figures. The dict holds no
record value, so neither can the page.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Template

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Validation of {{ g.dataset }} · run {{ g.run }} · GovBus</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1b1b1b; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .5rem; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #176b2c; font-weight: 600; } .bad { color: #a4161a; font-weight: 600; }
code { font-size: 90%; } small { color: #555; }
</style>
</head>
<body>
<h1>Validation of <code>{{ g.dataset }}</code></h1>
<p>Run <code>{{ g.run }}</code> at {{ r.meta.run_id.run_time }} against contract
<code>{{ r.suite_name }}</code>{% if g.schema_sha256 %}, schema
<code>{{ g.schema_sha256[:16] }}…</code>{% endif %}:
{% if r.success %}<span class="ok">every expectation met</span>{% else %}<span class="bad">{{
r.statistics.unsuccessful_expectations }} expectation(s) not met</span>{% endif %}.</p>
<p>{{ "{:,}".format(g.rows_read) }} row(s) read, {{ "{:,}".format(g.rows_quarantined) }} quarantined
({{ "{:,}".format(g.rows_unreadable) }} unreadable by the source);
{{ r.statistics.successful_expectations }} of {{ r.statistics.evaluated_expectations }} expectations met.</p>

<h2>Expectations</h2>
<table>
<tr><th>expectation</th><th>verdict</th><th class="n">rows</th><th class="n">unexpected</th>
<th class="n">% of judged</th><th class="n">% of all</th><th class="n">missing</th></tr>
{% for e in r.results %}
<tr>
<td><code>{{ e.meta.govbus.reason }}</code>{% if e.expectation_config.kwargs.mostly is defined %}
<br><small>mostly {{ e.expectation_config.kwargs.mostly }}</small>{% endif %}</td>
<td>{% if e.success %}<span class="ok">met</span>{% else %}<span class="bad">not met</span>{% endif %}</td>
{% if e.result.observed_value is defined %}
<td class="n" colspan="5">observed row count {{ "{:,}".format(e.result.observed_value) }}</td>
{% else %}
<td class="n">{{ "{:,}".format(e.result.element_count) }}</td>
<td class="n">{{ "{:,}".format(e.result.unexpected_count) }}</td>
<td class="n">{{ pct(e.result.unexpected_percent) }}</td>
<td class="n">{{ pct(e.result.unexpected_percent_total) }}</td>
<td class="n">{{ "{:,}".format(e.result.missing_count) }}</td>
{% endif %}
</tr>
{% endfor %}
</table>

{% if g.conform_issues %}
<h2>Rows that did not fit the schema</h2>
<table>
<tr><th>reason</th><th class="n">rows</th></tr>
{% for c in g.conform_issues %}<tr><td><code>{{ c.reason }}</code></td><td class="n">{{
"{:,}".format(c.rows) }}</td></tr>{% endfor %}
</table>
{% endif %}

{% if g.sla %}
<h2>Service level</h2>
<table>
<tr><th>rule</th><th>verdict</th><th>detail</th></tr>
{% for s in g.sla %}<tr><td>{{ s.rule }}</td><td>{% if s.ok %}<span class="ok">met</span>{% else
%}<span class="bad">breached{% if s.fails_run %} (fails the run){% endif %}</span>{% endif %}</td>
<td>{{ s.message }}</td></tr>{% endfor %}
</table>
{% endif %}

<p><small>Counts and rules only: no record's value is in this report. The same result as
Great Expectations JSON (ExpectationSuiteValidationResult) is next to this page.
GX {{ r.meta.great_expectations_version }} format.</small></p>
</body>
</html>
"""


@functools.cache
def _template() -> Template:
    """The compiled template; Jinja2 is imported by the first page rendered, not by the bus."""
    from jinja2 import Environment, StrictUndefined

    environment = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(_TEMPLATE)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} %"


def render(result: dict[str, Any]) -> str:
    """The HTML page of one validation result (see the module doc)."""
    return _template().render(r=result, g=result["meta"]["govbus"], pct=_pct)
