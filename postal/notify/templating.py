"""Message templates as files: ``templates/<name>.<lang>.txt``, rendered with Jinja2.

Each message declares its parameters with a sample value. ``check_templates`` renders every
template with its sample under StrictUndefined and checks that it names no other variable, so
a misspelt placeholder or a missing language file stops the service at start-up, not when a
citizen should have been told something.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta

from postal.i18n import LANGUAGES

TEMPLATE_DIR = Path(__file__).parent / "templates"

_DOCS = [
    {"name": "Tờ khai đăng ký khai sinh", "kind": "original", "quantity": 1},
    {"name": "Giấy chứng sinh", "kind": "copy", "quantity": 2},
]
_ITEMS = ["EB123456785VN", "EB123456799VN"]

# The parameters each message takes, with a sample of each (the code supplies exactly these).
MESSAGES: dict[str, dict[str, Any]] = {
    "booking_confirmed": {
        "reference": "HS-7K2M9Q4T",
        "date": "08/12/2026",
        "slot": "morning",
        "slot_start": "08:00",
        "slot_end": "11:30",
        "item_numbers": _ITEMS,
        "documents": _DOCS,
        "desk_name": "Bộ phận Một cửa phường Ba Đình",
    },
    "reminder": {
        "reference": "HS-7K2M9Q4T",
        "date": "08/12/2026",
        "slot": "afternoon",
        "slot_start": "13:30",
        "slot_end": "17:00",
        "item_numbers": _ITEMS,
        "documents": _DOCS,
    },
    "courier_on_way": {
        "reference": "HS-7K2M9Q4T",
        "date": "08/12/2026",
        "window_start": "09:15",
        "window_end": "10:15",
        "item_numbers": _ITEMS,
    },
    "otp": {"otp": "123456", "number": "EB123456785VN", "minutes": 10},
    "delivered": {
        "reference": "HS-7K2M9Q4T",
        "number": "EB123456799VN",
        "delivered_at": "10:05 08/12/2026",
        "proxy": False,
    },
    "picked_up": {
        "reference": "HS-7K2M9Q4T",
        "number": "EB123456785VN",
        "picked_up_at": "09:40 08/12/2026",
        "desk_name": "Bộ phận Một cửa phường Ba Đình",
    },
    "failed_attempt": {
        "reference": "HS-7K2M9Q4T",
        "number": "EB123456799VN",
        "attempt": 1,
        "next_attempt_on": "10/12/2026",
        "desk_name": "Bộ phận Một cửa phường Ba Đình",
    },
    "failed_pickup": {
        "reference": "HS-7K2M9Q4T",
        "number": "EB123456785VN",
        "attempt": 1,
        "next_attempt_on": "10/12/2026",
        "desk_name": "Bộ phận Một cửa phường Ba Đình",
    },
}


class TemplateError(Exception):
    """A message template is missing, names a placeholder the code does not supply, does not
    render, or the code supplies parameters the message does not declare."""


def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory, encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text: SMS, Zalo parameters, e-mail text/plain
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


@cache
def _default_environment() -> jinja2.Environment:
    return _environment(TEMPLATE_DIR)


def _render(env: jinja2.Environment, name: str, lang: str, params: dict[str, Any]) -> str:
    filename = f"{name}.{lang}.txt"
    try:
        text = env.get_template(filename).render(**params)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"message {name!r} has no {lang} template ({filename})") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{filename}: {exc}") from exc
    return text.strip()


def render(name: str, lang: str, params: dict[str, Any]) -> str:
    """The text of message ``name`` in ``lang`` (vi or en) with ``params``; TemplateError when
    the parameters are not exactly the declared ones or the template fails."""
    declared = MESSAGES.get(name)
    if declared is None:
        raise TemplateError(f"unknown message {name!r}")
    if set(params) != set(declared):
        missing = sorted(set(declared) - set(params))
        extra = sorted(set(params) - set(declared))
        raise TemplateError(f"message {name!r}: missing {missing}, undeclared {extra}")
    if lang not in LANGUAGES:
        raise TemplateError(f"unsupported language {lang!r}")
    return _render(_default_environment(), name, lang, params)


def check_templates(
    directory: Path | None = None, messages: dict[str, dict[str, Any]] | None = None
) -> None:
    """Render every message in every language with its sample parameters; raise TemplateError
    naming each missing file, unknown placeholder or failing template (the service's start-up
    and the worker's call this)."""
    directory = directory or TEMPLATE_DIR
    messages = MESSAGES if messages is None else messages
    env = _environment(directory)
    problems: list[str] = []
    for name, sample in messages.items():
        for lang in LANGUAGES:
            filename = f"{name}.{lang}.txt"
            path = directory / filename
            if not path.is_file():
                problems.append(f"message {name!r} has no {lang} template ({filename})")
                continue
            source = path.read_text(encoding="utf-8")
            try:
                # Every branch counts: a placeholder in an untaken {% if %} is still checked.
                names = meta.find_undeclared_variables(env.parse(source))
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{filename}: {exc}")
                continue
            unknown = sorted(names - set(sample))
            if unknown:
                problems.append(f"{filename}: unknown placeholder(s) {', '.join(unknown)}")
                continue
            try:
                if not _render(env, name, lang, sample):
                    problems.append(f"{filename}: renders empty")
            except TemplateError as exc:
                problems.append(str(exc))
    if problems:
        raise TemplateError("; ".join(problems))
