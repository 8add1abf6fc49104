"""A person's view: headless Chromium loads /dashboard and /graphql from a running service.

It signs in with a read key, sees the numbers and the charts, watches a live update arrive
through the GraphQL subscription, and never sends a request beyond 127.0.0.1. Screenshots go to
test-output/browser/<backend>/ (and the test's tmp folder holds the browser profile).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from app.services import resume
from app.services.commands import RequestResume
from db.models import Build
from tests.conftest import IN_CI, READ_KEY
from tests.observability.cdp import browser, chromium_path
from tests.observability.servers import serve
from tests.observability.test_stats import scenario  # noqa: F401 - a fixture

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"

if chromium_path() is None:
    if IN_CI:
        raise RuntimeError("chromium is required in CI (.ci/run installs Debian's package)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


def _local_only(urls: list[str], port: int) -> list[str]:
    """The URLs that went anywhere but this service on 127.0.0.1."""
    bad = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "about", "blob"):
            continue
        if parts.hostname != "127.0.0.1" or parts.port != port:
            bad.append(url)
    return bad


async def test_the_dashboard_as_a_person_sees_it(database, scenario, writer, backend, tmp_path):  # noqa: F811
    shots = OUTPUT / backend
    async with serve(database.database_url, tmp_path, name="dashboard") as server, \
            browser(tmp_path / "profile") as page:
        # refresh=600: polling is effectively off, so the update below must come live.
        await page.navigate(f"{server.url}/dashboard?refresh=600")
        await page.wait_for("!document.getElementById('login').hidden")
        await page.screenshot(shots / "01-sign-in.png")
        await page.evaluate(f"""(() => {{
            document.getElementById('api-key').value = {json.dumps(READ_KEY)};
            document.getElementById('login-form').requestSubmit();
        }})()""")
        await page.wait_for("document.body.dataset.refreshes >= 1")
        # Choose the scenario's project and every period, as a person would.
        await page.evaluate(f"""(() => {{
            const pick = (id, value) => {{
                const el = document.getElementById(id); el.value = value;
                el.dispatchEvent(new Event('change'));
            }};
            pick('project', {json.dumps(scenario)});
            pick('since', '');
        }})()""")
        await page.wait_for("document.getElementById('kpi-minutes-saved').textContent === '55 min'")
        kpis = await page.evaluate("""(() => Object.fromEntries(
            ['kpi-builds', 'kpi-success-rate', 'kpi-time-to-resume', 'kpi-minutes-saved']
              .map(id => [id, document.getElementById(id).textContent])))()""")
        assert kpis == {"kpi-builds": "5", "kpi-success-rate": "50%",
                        "kpi-time-to-resume": "19 min", "kpi-minutes-saved": "55 min"}
        charts = await page.evaluate("""(() => ({
            status: [...document.querySelectorAll('#chart-status rect.bar')].map(r => +r.dataset.value),
            failures: [...document.querySelectorAll('#chart-failures rect.bar')].map(r => +r.dataset.value),
            failureWidths: [...document.querySelectorAll('#chart-failures rect.bar')].map(r => r.getBBox().height),
            points: document.querySelectorAll('#chart-resume-rate circle.point').length,
            line: !!document.querySelector('#chart-resume-rate path.line'),
            rows: document.querySelectorAll('#recent-builds tbody tr').length,
            failedSteps: document.querySelectorAll('#recent-builds .step.failed').length,
            openRows: document.querySelectorAll('#open-resumes tbody tr').length,
        }))()""")
        assert sorted(charts["status"]) == [0, 1, 1, 1, 2]
        assert charts["failures"] == [3, 1] and all(h > 5 for h in charts["failureWidths"])
        assert charts["points"] == 2 and charts["line"]
        assert charts["rows"] == 5 and charts["failedSteps"] == 1 and charts["openRows"] == 0
        await page.wait_for("document.getElementById('live-text').textContent === 'live'")
        await page.screenshot(shots / "02-dashboard.png")

        # A live update: an operator files a resume request for the failed build #3.
        build = await Build.get(project_id=scenario, build_number=3)
        await resume.request_resume(actor=writer, build_id=str(build.id),
                                    command=RequestResume(resume_reason="disk quota raised"))
        await page.wait_for("document.querySelectorAll('#open-resumes tbody tr').length === 1")
        row = await page.evaluate("document.querySelector('#open-resumes tbody tr').textContent")
        assert "disk quota raised" in row and "#3" in row and "pending" in row
        await page.screenshot(shots / "03-live-update.png")

        # The key stays in this tab and in headers: never in a URL.
        assert await page.evaluate("sessionStorage.getItem('buildstate.readKey')") == READ_KEY
        summary = [r for r in page.requests if "/dashboard/summary" in r["request"]["url"]]
        assert summary and all(r["request"]["headers"].get("X-API-Key") == READ_KEY for r in summary)

        # GraphiQL, served with its assets by the service itself: the key typed in the Headers
        # editor, the same statistics asked for in GraphQL.
        query = '{ stats(projectId: "%s") { buildMinutesSaved resumeSuccessRate } }' % scenario
        await page.navigate(f"{server.url}/graphql?{urlencode({'q': query})}")
        await page.wait_for("document.querySelectorAll('.CodeMirror').length >= 3")
        await page.evaluate(f"""(() => {{
            const editors = [...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror);
            const headers = editors.find(cm => cm.getValue().includes('X-API-Key'));
            headers.setValue(JSON.stringify({{"X-API-Key": {json.dumps(READ_KEY)}}}));
            document.querySelector('.graphiql-execute-button').click();
        }})()""")
        answer = await page.wait_for("""(() => {
            const text = document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue();
            return text && text.includes('buildMinutesSaved') ? text : null;
        })()""")
        assert json.loads(answer)["data"]["stats"] == {"buildMinutesSaved": 55.0, "resumeSuccessRate": 0.5}
        await page.screenshot(shots / "04-graphiql.png")

        urls = page.urls()
        assert any(u.endswith("/dashboard/assets/charts.js") for u in urls)
        assert any(u.startswith(f"ws://127.0.0.1:{server.port}/graphql") for u in urls)
        assert not _local_only(urls, server.port), _local_only(urls, server.port)
        assert all(READ_KEY not in u for u in urls)
        assert not [c for c in page.console if c.startswith("EXCEPTION")], page.console
    for name in ("01-sign-in", "02-dashboard", "03-live-update", "04-graphiql"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name

