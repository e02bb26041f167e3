"""Commands of the custody ledger: `postal verify` and `postal bench ledger`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Custody ledger.", no_args_is_help=True)

DbUrl = Annotated[str | None, typer.Option("--database-url", help="Overrides POSTAL_DATABASE_URL.")]


@app.command("verify")
def verify(database_url: DbUrl = None) -> None:
    """Check every hash and link of the ledger; exit 1 naming the first broken link."""
    from sqlmodel import Session

    from postal.db import get_engine, make_engine
    from postal.tracking.ledger import verify as verify_ledger

    engine = make_engine(database_url) if database_url else get_engine()
    with Session(engine) as session:
        report = verify_ledger(session)
    if report.ok:
        typer.echo(f"ledger intact: {report.events} events")
        return
    typer.echo(
        f"ledger BROKEN at seq {report.broken_seq} (event {report.broken_event_id}): "
        f"{report.reason}",
        err=True,
    )
    raise typer.Exit(1)


@app.command("ledger")
def bench_ledger(
    clients: Annotated[int, typer.Option(help="Concurrent courier clients.")] = 32,
    events: Annotated[int, typer.Option(help="Events to send (two per item).")] = 100_000,
    database_url: DbUrl = None,
    out: Annotated[Path | None, typer.Option(help="Directory for ledger_bench.csv.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 2,
    rate: Annotated[
        float,
        typer.Option(
            min=0,
            help="Events per second offered by all clients together (the goal's 1,000 by "
            "default); 0 sends each batch as soon as the previous reply arrives, which measures "
            "the most the server takes (latency then is queueing: clients x 10 / throughput).",
        ),
    ] = 1000.0,
) -> None:
    """Post event batches from concurrent clients with re-sends and disconnects; print figures.

    event_ack_* is the goal's latency: from when an event's batch was due (on the offered
    schedule) to the reply that acknowledged it; batch_* is the round trip of each first request
    answered. events_per_s is what the server took; below the offered rate it fell behind.
    """
    from postal.config import get_settings
    from postal.tracking.bench import run

    url = database_url or get_settings().database_url
    figures = run(url, clients, events, out, workers=workers, rate=rate)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        typer.echo(f"{key:<{width}}  {value}")
    if figures["lost"] or figures["duplicated"] or not figures["ledger_ok"]:
        raise typer.Exit(1)
