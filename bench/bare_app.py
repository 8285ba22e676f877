"""The bare endpoint: a FastAPI app that parses the same JSON body as intake and answers 201, with
no database and no validation beyond "a JSON object". Served exactly as the services are
(uvicorn, uvloop, no access log), so the ratio intake ÷ bare is the cost of intake's own work.

``python -m bench.bare_app PORT``
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(title="bare endpoint")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        """Always ready."""
        return {"status": "ready"}

    @app.post("/v1/dossiers", status_code=201)
    async def accept(body: dict[str, Any]) -> dict[str, Any]:
        """Accept any JSON object."""
        return {"dossier_id": str(uuid.uuid4()), "status": "received", "fields": len(body)}

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", access_log=False, log_config=None)
