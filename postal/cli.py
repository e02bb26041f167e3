"""The `postal` command: serve, demo, db, load, user, apikey, bench."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from postal.config import DEFAULT_SECRET_KEY, get_settings

app = typer.Typer(help="Public postal service for one-stop desks.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys of the one-stop information system.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: print tables, write CSV.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(bench_app, name="bench")


def _mount_optional() -> None:
    """Mount the commands of the geo, planning, maps, tracking and routing packages."""
    from maps.cli import app as maps_bench
    from postal.geo.cli import app as geo_bench
    from postal.planning.cli import app as city_bench

    benches = (geo_bench, city_bench, maps_bench)
    for command in [c for b in benches for c in b.registered_commands]:
        bench_app.registered_commands.append(command)
    try:
        from postal.tracking.cli import app as tracking_app
    except ImportError:  # the ledger is being built in its own issue
        pass
    else:
        for command in tracking_app.registered_commands:
            if command.name == "verify":
                app.registered_commands.append(command)
            else:
                bench_app.registered_commands.append(command)
    try:
        from postal.routing.cli import bench_app as routing_bench
        from postal.routing.cli import solve_command
    except ImportError:  # the optimiser is being built in its own issue
        return
    for command in routing_bench.registered_commands:
        bench_app.registered_commands.append(command)
    app.command("solve")(solve_command)


DbUrl = Annotated[str | None, typer.Option("--database-url", help="Overrides POSTAL_DATABASE_URL.")]


def _engine(url: str | None):  # type: ignore[no-untyped-def]
    from postal.db import get_engine, make_engine

    return make_engine(url) if url else get_engine()


@db_app.command("upgrade")
def db_upgrade(database_url: DbUrl = None, revision: str = "head") -> None:
    """Apply the migrations up to REVISION (default: head)."""
    from postal.migrations import current_revision, upgrade

    engine = _engine(database_url)
    upgrade(engine, revision)
    typer.echo(f"database at revision {current_revision(engine)}")


@db_app.command("current")
def db_current(database_url: DbUrl = None) -> None:
    """Print the database's migration revision and the code's head."""
    from postal.migrations import current_revision, head_revision

    typer.echo(f"database: {current_revision(_engine(database_url))}  code: {head_revision()}")


@app.command("load")
def load(
    locality: Annotated[str, typer.Argument(help="Locality slug, e.g. hanoi")],
    database_url: DbUrl = None,
) -> None:
    """Load the reference data and the LOCALITY's desks and post offices into the database."""
    from postal.catalogue.load import load_locality
    from postal.db import session_scope
    from postal.migrations import ensure_migrated

    engine = _engine(database_url)
    ensure_migrated(engine)
    with session_scope(engine) as session:
        counts = load_locality(session, get_settings().data_dir, locality)
    for name, n in counts.items():
        typer.echo(f"{name:>22}: {n}")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option(help="Login name")],
    role: Annotated[str, typer.Option(help="courier, clerk, dispatcher or admin")],
    full_name: Annotated[str, typer.Option(help="Name shown on records")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    desk: Annotated[str | None, typer.Option(help="Desk code (clerks)")] = None,
    post_office: Annotated[
        list[str] | None, typer.Option(help="Post office code (couriers, dispatchers); repeat")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Create a staff account."""
    from postal.auth.models import Role
    from postal.auth.service import create_user
    from postal.db import session_scope
    from postal.errors import PostalError

    try:
        with session_scope(_engine(database_url)) as session:
            create_user(
                session,
                username=username,
                password=password,
                role=Role(role),
                full_name=full_name,
                desk_code=desk,
                post_office_codes=post_office or [],
            )
    except (PostalError, ValueError) as exc:
        typer.echo(f"error: {getattr(exc, 'code', exc)} ({getattr(exc, 'field', '')})", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"created {role} {username}")


@apikey_app.command("create")
def apikey_create(name: str, database_url: DbUrl = None) -> None:
    """Create an API key for the one-stop information system (printed once)."""
    from postal.auth.service import create_api_key
    from postal.db import session_scope

    with session_scope(_engine(database_url)) as session:
        key = create_api_key(session, name)
    typer.echo(key)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the web service; refuses a database that is not migrated."""
    import uvicorn

    from api.main import create_app
    from postal.db import get_engine
    from postal.errors import NotMigrated
    from postal.migrations import ensure_migrated

    settings = get_settings()
    try:
        ensure_migrated(get_engine())
    except NotMigrated as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(3) from exc
    if settings.secret_key == DEFAULT_SECRET_KEY:
        typer.echo(
            "error: POSTAL_SECRET_KEY is the built-in default: set a secret of your own (it "
            "keys the hash of citizens' ID numbers and signs records)",
            err=True,
        )
        raise typer.Exit(2)
    uvicorn.run(
        create_app(settings, get_engine()),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
    )


@app.command("worker")
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Tasks run at once (default POSTAL_WORKER_CONCURRENCY)")
    ] = None,
    queues: Annotated[
        str | None,
        typer.Option(help="Comma-separated queues: planning, messages, default (all)"),
    ] = None,
) -> None:
    """Run a worker: planning parts, messages, webhooks, optimise problems, periodic jobs.

    Start as many as you like, on any machine that reaches the PostgreSQL database.
    """
    import logging

    from postal.db import get_engine
    from postal.errors import NotMigrated
    from postal.migrations import ensure_migrated
    from postal.worker.run import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    try:
        ensure_migrated(get_engine())
    except NotMigrated as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(3) from exc
    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    try:
        run_worker(settings, get_engine(), concurrency, chosen)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("demo")
def demo(
    database: Annotated[Path, typer.Option(help="SQLite file to (re)create")] = Path("demo.db"),
    bookings: Annotated[int | None, typer.Option(help="Bookings to create")] = None,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Fresh SQLite database, migrations, Hà Nội, demo staff, bookings, then the server."""
    import os

    from postal.demo import build_demo

    database = database.resolve()
    url = f"sqlite:///{database}"
    os.environ["POSTAL_DATABASE_URL"] = url
    os.environ.setdefault("POSTAL_COOKIE_SECURE", "false")
    # A key of the demo's own: `postal serve` refuses the built-in default.
    os.environ.setdefault("POSTAL_SECRET_KEY", "demo-only-key-never-in-production-2026")
    # Both cores plan (two parts at once) and a part gets 10 s: the demo's ten post offices
    # are planned in about a minute.
    os.environ.setdefault("POSTAL_WORKER_CONCURRENCY", "2")
    os.environ.setdefault("POSTAL_PLAN_TIME_LIMIT_S", "10")
    get_settings.cache_clear()
    if not get_settings().sms_url:  # messages reach the demo's own phone page
        base = f"http://{get_settings().host}:{get_settings().port}"
        os.environ["POSTAL_SMS_URL"] = f"{base}/demo/sms-gateway"
        os.environ["POSTAL_DEMO_PHONE"] = "true"
        get_settings.cache_clear()
    from postal.db import get_engine

    get_engine.cache_clear()
    report = build_demo(database, bookings)
    typer.echo(report)
    if serve_after:
        serve(None, None)


_mount_optional()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
