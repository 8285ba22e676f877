"""``python -m reporting.tail``: follow the live event stream of a running reporting service.

    python -m reporting.tail --type DossierOverdue
    python -m reporting.tail --agency UBND-X-YENHOA --type ResultIssued,DossierOverdue
    python -m reporting.tail --dossier UBND-X-YENHOA-240304-0001 --json

One line per event. Reconnects (a bounded number of times) when the service restarts, resuming
after the last event seen (SSE ``Last-Event-ID``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

import httpx

DEFAULT_URL = f"http://127.0.0.1:{os.environ.get('REPORTING_PORT', '8004')}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m reporting.tail", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"reporting service base URL (default {DEFAULT_URL})")
    parser.add_argument("--type", action="append", default=[], help="event type(s), comma-separated or repeated")
    parser.add_argument("--dossier", help="dossier id, dossier code or bundle id")
    parser.add_argument("--agency", help="agency code")
    parser.add_argument("--json", action="store_true", help="print each event as one JSON line")
    parser.add_argument("--limit", type=int, default=0, help="exit after this many events (0: never)")
    parser.add_argument("--reconnects", type=int, default=20, help="give up after this many failed reconnects")
    return parser.parse_args(argv)


def frames(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) for each server-sent event; comments and retry lines are skipped."""
    event, event_id, data = "message", "", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, event_id, "\n".join(data)
            event, event_id, data = "message", "", list[str]()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("id:"):
            event_id = line[3:].strip()


def render(item: dict[str, Any]) -> str:
    """One readable line: time, type, dossier code, agency, status and the event's details."""
    when = datetime.fromisoformat(item["occurred_at"]).strftime("%Y-%m-%d %H:%M:%S%z")
    subject = item.get("code") or item.get("dossier_id") or item.get("bundle_id") or "-"
    detail = " ".join(f"{k}={v}" for k, v in sorted((item.get("detail") or {}).items()))
    parts = [when, f"{item['type']:<24}", subject, f"agency={item.get('agency') or '-'}"]
    if item.get("status"):
        parts.append(f"status={item['status']}")
    return "  ".join(parts + ([detail] if detail else []))


def follow(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    params: dict[str, str] = {k: v for k, v in (("dossier", args.dossier), ("agency", args.agency)) if v}
    if args.type:
        params["type"] = ",".join(args.type)
    seen, failures, last_id = 0, 0, ""
    with httpx.Client(base_url=args.url, timeout=httpx.Timeout(10.0, read=60.0)) as client:
        while failures <= args.reconnects:
            headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last_id} if last_id else {})}
            try:
                with client.stream("GET", "/v1/events/stream", params=params, headers=headers) as response:
                    if response.status_code != 200:
                        print(f"error: HTTP {response.status_code}: {response.read().decode()}", file=err)
                        return 2
                    print(f"# following {args.url}/v1/events/stream {params or ''}", file=err, flush=True)
                    failures = 0
                    for event, event_id, data in frames(response.iter_lines()):
                        if event in ("dropped", "gap"):
                            note = (
                                f"{json.loads(data)['dropped']} events dropped: too slow"
                                if event == "dropped"
                                else "the service lost its event source a while: events may be missing"
                            )
                            print(f"# {note}", file=err, flush=True)
                            continue
                        last_id = event_id or last_id
                        item = json.loads(data)
                        print(json.dumps(item, ensure_ascii=False) if args.json else render(item), file=out, flush=True)
                        seen += 1
                        if args.limit and seen >= args.limit:
                            return 0
            except httpx.HTTPError as exc:
                failures += 1
                print(f"# connection lost ({type(exc).__name__}); retry {failures}/{args.reconnects}", file=err)
                time.sleep(min(0.5 * 2**failures, 10.0))
    return 1


def main(argv: list[str] | None = None) -> int:
    try:
        return follow(parse_args(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
