"""The checked-in OpenAPI document (contracts/openapi/intake.json).

``python -m intake.openapi`` writes it; ``--check`` exits 1 when it differs from the app's (the unit
test does the same), so a change of the API shows up in review as a change of the contract.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import contracts

DOCUMENT = Path(contracts.__file__).resolve().parent / "openapi" / "intake.json"


def current() -> dict[str, Any]:
    """The OpenAPI of the app as built now (nothing is started or connected)."""
    from intake.bootstrap import create_app

    return create_app().openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on drift")
    args = parser.parse_args(argv)
    text = render(current())
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != text:
            print(f"{DOCUMENT} is out of date: run python -m intake.openapi", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(text, encoding="utf-8")
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
