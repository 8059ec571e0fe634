"""Liveness (/healthz) and readiness (/readyz: the database and the object store answer)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from .deps import Services, get_services

__all__ = ["router"]

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str = Field(description="ok")


class ReadyOut(BaseModel):
    status: str = Field(description="ready, or unavailable")
    checks: dict[str, str] = Field(description="database, object_store → ok or error: <kind>")


@router.get("/healthz", response_model=HealthOut)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _checks(services: Services) -> dict[str, str]:
    results: dict[str, str] = {}
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        results["database"] = "ok"
    except Exception as e:
        results["database"] = f"error: {type(e).__name__}"
    try:
        services.store.check()
        results["object_store"] = "ok"
    except Exception as e:
        results["object_store"] = f"error: {type(e).__name__}"
    return results


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "A back end does not answer"}},
)
async def readyz(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    checks = await run_in_threadpool(_checks, services)
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)
