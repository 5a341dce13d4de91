"""``/metrics``: guarded like any staff route, scraped with a token, no identifiers in labels."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry, multiprocess

from api.core.metrics import MULTIPROCESS_VARIABLE, prepare_multiprocess
from api.core.settings import Zone
from api.issuance.app import create_app as create_issuance_app
from api.issuance.models import CORE_TABLES as ISSUANCE_TABLES
from api.reservation.app import create_app as create_reservation_app
from api.reservation.models import CORE_TABLES as RESERVATION_TABLES
from tests.conftest import truncate_all
from tests.staff import signed_in_client
from tests.support import make_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
APPS: dict[Zone, tuple[Callable[..., Litestar], Any]] = {
    Zone.ISSUANCE: (create_issuance_app, ISSUANCE_TABLES),
    Zone.RESERVATION: (create_reservation_app, RESERVATION_TABLES),
}


@asynccontextmanager
async def _staff(
    zone: Zone, url: str, tmp_path: Path, permissions: tuple[str, ...]
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    factory, tables = APPS[zone]
    settings = make_settings(zone, tmp_path)
    # The first account of a zone must be able to manage users.
    permissions = ("users.manage", *permissions)
    try:
        async with signed_in_client(
            factory(settings, url), url, settings, tables, permissions=permissions
        ) as client:
            yield client
    finally:
        await truncate_all(url)


@pytest.mark.parametrize("zone", list(Zone), ids=lambda zone: zone.value)
async def test_metrics_need_metrics_read_and_a_scraper_token_carrying_it_is_served(
    zone: Zone, zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    async with _staff(
        zone, zone_database_urls[zone], tmp_path, ("metrics.read", "audit.read")
    ) as client:
        created = await client.post(
            "/api/staff/tokens/",
            json={"name": "prometheus", "permissions": ["metrics.read"], "days": 90},
        )
        assert created.status_code == 201, created.text
        auditor_token = await client.post(
            "/api/staff/tokens/", json={"name": "audit", "permissions": ["audit.read"]}
        )
        client.cookies.clear()
        del client.headers["x-csrftoken"]

        anonymous = await client.get("/metrics")
        without = await client.get(
            "/metrics", headers={"authorization": f"Bearer {auditor_token.json()['secret']}"}
        )
        scraped = await client.get(
            "/metrics", headers={"authorization": f"Bearer {created.json()['secret']}"}
        )

    assert anonymous.status_code == 401
    assert without.status_code == 403
    assert without.json()["error"]["details"] == {"permission": "metrics.read"}
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert f'madoguchi_http_requests_total{{app_name="{zone.value}"' in scraped.text


async def test_request_metrics_name_the_route_template_never_the_reservation_id(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    url = zone_database_urls[Zone.ISSUANCE]
    async with _staff(Zone.ISSUANCE, url, tmp_path, ("residents.read", "metrics.read")) as client:
        missing = await client.get("/api/resident-pages/ZZZ-424242")
        await client.get("/healthz")
        scraped = await client.get("/metrics")

    assert missing.status_code == 404
    assert scraped.status_code == 200
    assert 'path="/api/resident-pages/{reservation_id}"' in scraped.text
    assert 'status_code="404"' in scraped.text
    assert "ZZZ-424242" not in scraped.text
    # Probes and scrapes are not the residents' service: they are not counted.
    assert 'path="/healthz"' not in scraped.text
    assert 'path="/metrics"' not in scraped.text


async def test_refusals_by_the_authentication_middleware_are_counted_with_their_status(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    url = zone_database_urls[Zone.ISSUANCE]
    async with _staff(Zone.ISSUANCE, url, tmp_path, ("metrics.read",)) as client:
        before = await client.get("/metrics")
        refused = await client.get(
            "/api/staff/me", headers={"authorization": "Bearer mdg_not-a-token"}
        )
        after = await client.get("/metrics")

    def count(text: str, status: int) -> float:
        found = re.search(
            r'^madoguchi_http_requests_total\{app_name="issuance",method="GET",'
            rf'path="/api/staff/me",status_code="{status}"\}} (\S+)$',
            text,
            flags=re.MULTILINE,
        )
        return float(found[1]) if found else 0.0

    assert refused.status_code == 401
    assert count(after.text, 401) == count(before.text, 401) + 1
    assert count(after.text, 200) == count(before.text, 200)


async def test_resident_logins_are_in_the_reservation_zones_metrics(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    url = zone_database_urls[Zone.RESERVATION]
    async with _staff(Zone.RESERVATION, url, tmp_path, ("metrics.read",)) as client:
        refused = await client.post(
            "/api/resident/login", json={"reservation_id": "ZZZ-000001", "password": "0101"}
        )
        scraped = await client.get("/metrics")

    assert refused.status_code == 401
    assert 'madoguchi_resident_logins_total{outcome="login_failed"}' in scraped.text
    assert "madoguchi_resident_login_failure_alarm" in scraped.text
    assert "ZZZ-000001" not in scraped.text


_COUNT_ONE_LOGIN = (
    "from api.reservation.booking.metrics import count_login; count_login('login_succeeded')"
)


def test_worker_processes_share_their_counts_through_the_multiprocess_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_99999.db").write_bytes(b"left by an earlier run")
    (folder / "notes.txt").write_text("not ours")
    # Recorded first, so that the variable prepare_multiprocess sets goes with the test.
    monkeypatch.setenv(MULTIPROCESS_VARIABLE, "")

    chosen = prepare_multiprocess(folder, "reservation")
    # Two real worker processes, started after the call as uvicorn's would be.
    for _ in range(2):
        subprocess.run([sys.executable, "-c", _COUNT_ONE_LOGIN], check=True, env=dict(os.environ))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]

    assert chosen == folder
    assert os.environ[MULTIPROCESS_VARIABLE] == str(folder)
    assert (folder / "notes.txt").exists()
    assert not (folder / "counter_99999.db").exists()
    succeeded = {"outcome": "login_succeeded"}
    assert registry.get_sample_value("madoguchi_resident_logins_total", succeeded) == 2


def test_an_operators_multiprocess_folder_gets_a_subfolder_per_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "counter_12345.db").write_bytes(b"another program's live file")
    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(shared))

    chosen = prepare_multiprocess(tmp_path / "unused", "issuance")

    assert chosen == shared / "issuance"
    assert os.environ[MULTIPROCESS_VARIABLE] == str(shared / "issuance")
    assert (shared / "counter_12345.db").exists()
    assert not (tmp_path / "unused").exists()


def _families(exposition: str) -> set[str]:
    return {_family(name) for name in re.findall(r"^# TYPE (\S+) ", exposition, flags=re.MULTILINE)}


def _family(sample: str) -> str:
    # A sample's name is its family's plus a suffix for counters and histograms.
    return re.sub(r"_(total|bucket|count|sum|created)$", "", sample)


async def test_every_metric_the_alert_rules_and_the_dashboard_name_is_one_the_zones_export(
    zone_database_urls: dict[Zone, str], tmp_path: Path
) -> None:
    exported: set[str] = set()
    for zone in Zone:
        async with _staff(zone, zone_database_urls[zone], tmp_path, ("metrics.read",)) as client:
            await client.get("/api/staff/me")
            scraped = await client.get("/metrics")
            assert scraped.status_code == 200, scraped.text
            exported |= _families(scraped.text)
    rules = [
        rule
        for group in yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    ]
    dashboard = json.loads((DEPLOY.parent / "grafana" / "madoguchi.json").read_text("utf-8"))
    expressions = [rule["expr"] for rule in rules] + [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]
    named = {_family(name) for expr in expressions for name in re.findall(r"\bmadoguchi_\w+", expr)}

    assert len(rules) >= 5
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"\d+m", rule["for"]), rule["alert"]
    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids))
    assert "madoguchi_resident_login_failure_alarm" in named
    assert named <= exported, named - exported


def test_the_scrape_configuration_names_both_zones_with_a_token_and_the_rules() -> None:
    configuration = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in configuration["scrape_configs"]}

    assert set(jobs) == {f"madoguchi-{zone.value}" for zone in Zone}
    for job in jobs.values():
        assert job["metrics_path"] == "/metrics"
        assert job["authorization"]["type"] == "Bearer"
        assert job["authorization"]["credentials_file"].endswith(".token")
    assert configuration["rule_files"] == ["/etc/prometheus/madoguchi/alerts.yml"]
