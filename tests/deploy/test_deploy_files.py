"""The deployment files say only what Reelay understands: every REELAY_ variable the compose file sets is a real
setting, every metric the dashboard queries is one Reelay exports, and Prometheus scrapes every Reelay process.
(Docker itself is not available on the test machines: these are checks of the files.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from bot.settings import Settings
from metrics import Metrics, metric_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
_METRIC = re.compile(r"\breelay_[a-z_]+\b")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def setting_paths(model: type[BaseModel] = Settings, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= setting_paths(annotation, f"{prefix}{name}.")
        else:
            paths.add(f"{prefix}{name}")
    return paths


def test_every_reelay_variable_in_the_compose_file_is_a_real_setting() -> None:
    known = setting_paths()
    variables = {
        name
        for service in compose()["services"].values()
        for name in (service.get("environment") or {})
        if name.startswith("REELAY_")
    }

    unknown = sorted(v for v in variables if v.removeprefix("REELAY_").lower().replace("__", ".") not in known)

    assert variables, "the Reelay services are configured through REELAY_ variables"
    assert unknown == []


def test_the_compose_file_runs_redis_with_aof_minio_with_its_bucket_one_bot_and_two_pollers() -> None:
    services = compose()["services"]

    assert "--appendonly" in services["redis"]["command"]
    assert services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1] == "yes"
    assert "mb --ignore-existing local/reelay-videos" in " ".join(services["minio-bucket"]["command"])
    roles = sorted(service["command"][0] for service in services.values() if service.get("build"))
    assert roles == ["bot", "poller", "poller"]
    bucket = services["bot"]["environment"]["REELAY_S3__BUCKET"]
    assert bucket == "reelay-videos"


def test_prometheus_scrapes_every_reelay_process_on_its_http_port() -> None:
    services = compose()["services"]
    reelays = {name for name, service in services.items() if service.get("build")}
    port = services["bot"]["environment"]["REELAY_HTTP__PORT"]
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())

    targets = {
        target
        for job in config["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for group in job["static_configs"]
        for target in group["targets"]
    }

    assert targets == {f"{name}:{port}" for name in reelays}


def test_every_metric_the_dashboard_queries_is_one_reelay_exports() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "reelay.json").read_text())
    queried = {
        name for panel in dashboard["panels"] for target in panel["targets"] for name in _METRIC.findall(target["expr"])
    }
    exported = metric_names(Metrics())

    assert queried - exported == set()
    for wanted in (
        "reelay_jobs_finished_total",
        "reelay_job_generation_seconds_bucket",
        "reelay_jobs_active",
        "reelay_provider_balance",
        "reelay_poll_lateness_seconds_bucket",
    ):
        assert wanted in queried, f"the dashboard shows {wanted}"
