"""Schema migrations with Alembic: upgrade, and the check `postal serve` runs first."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from alembic import command
from postal.config import REPO_ROOT
from postal.errors import NotMigrated


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration of the repository, optionally bound to ``url``."""
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision``."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head_revision() -> str | None:
    """The newest migration in the code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None when never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_migrated(engine: Engine) -> None:
    """Raise NotMigrated unless the database is at the code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise NotMigrated(
            "database_not_migrated",
            f"The database is at revision {current or 'none'} but the code needs {head}: "
            "run `postal db upgrade` first.",
        )
