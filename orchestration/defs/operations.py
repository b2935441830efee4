"""Operations: when the platform refreshes by itself, and how it warns when the published data is stale.

Configuration (environment variables, read when the code location loads):
  DA_REFRESH_CRON          cron of the scheduled refresh (default ``0 6 1 * *``: 06:00 on the 1st of the month)
  DA_LANDING_DIR           folder watched for new complete extracts (default ``data/landing``)
  DA_FRESHNESS_MAX_DAYS    published data older than this many days raises a freshness warning (default 35)
"""

import os
from datetime import timedelta
from pathlib import Path

import dagster as dg

from dap import landing, settings
from orchestration.defs.publish import PUBLISH_KEY

REFRESH_JOB = "refresh_all"


def refresh_cron() -> str:
    return os.environ.get("DA_REFRESH_CRON", "0 6 1 * *")


def landing_dir() -> Path:
    value = os.environ.get("DA_LANDING_DIR", "").strip()
    return settings.absolute(value) if value else settings.DATA_DIR / "landing"


def freshness_max_days() -> float:
    return float(os.environ.get("DA_FRESHNESS_MAX_DAYS", "35"))


def run_config_for_extract(extract_dir: Path) -> dict:
    return {"ops": {"raw_extract": {"config": {"extract_dir": str(extract_dir)}}}}


scheduled_refresh = dg.ScheduleDefinition(
    name="scheduled_refresh",
    job_name=REFRESH_JOB,
    cron_schedule=refresh_cron(),
    execution_timezone="Europe/London",
    description="Rebuilds and publishes everything from DA_EXTRACT_DIR on the configured cron (DA_REFRESH_CRON).",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


@dg.sensor(
    name="landing_folder_sensor",
    job_name=REFRESH_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts one run per new complete extract (marked by _SUCCESS or manifest.json) in DA_LANDING_DIR.",
)
def landing_folder_sensor(context: dg.SensorEvaluationContext):
    fresh, cursor = landing.new_extracts(landing_dir(), context.cursor)
    if not fresh:
        return dg.SkipReason(f"no new complete extract in {landing_dir()}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=extract.key,
                run_config=run_config_for_extract(extract.path),
                tags={"dap/extract_dir": str(extract.path), "dap/trigger": "landing"},
            )
            for extract in fresh
        ],
        cursor=cursor,
    )


published_freshness = dg.build_last_update_freshness_checks(
    assets=[PUBLISH_KEY],
    lower_bound_delta=timedelta(days=freshness_max_days()),
    severity=dg.AssetCheckSeverity.WARN,
)
freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=published_freshness, name="published_freshness_sensor"
)

defs = dg.Definitions(
    schedules=[scheduled_refresh],
    sensors=[landing_folder_sensor, freshness_sensor],
    asset_checks=published_freshness,
)
