"""Message templates: every one renders in both languages; a broken one stops start-up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from postal.notify.templating import MESSAGES, TEMPLATE_DIR, TemplateError, check_templates, render


def test_every_template_renders_in_vi_and_en() -> None:
    check_templates()
    for name, sample in MESSAGES.items():
        vi, en = render(name, "vi", sample), render(name, "en", sample)
        assert vi and en and vi != en, name
        assert "{{" not in vi and "{%" not in en
    assert "Mã xác nhận 123456" in render("otp", "vi", MESSAGES["otp"])
    confirmed = render("booking_confirmed", "vi", MESSAGES["booking_confirmed"])
    assert "Giấy tờ cần chuẩn bị" in confirmed and "Tờ khai đăng ký khai sinh" in confirmed
    returned = render(
        "failed_attempt", "vi", {**MESSAGES["failed_attempt"], "next_attempt_on": None}
    )
    assert "trả về" in returned and "giao lại" not in returned


def test_templates_are_utf8_with_diacritics() -> None:
    for path in TEMPLATE_DIR.glob("*.vi.txt"):
        text = path.read_text(encoding="utf-8")
        assert any(ch in text for ch in "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"), (
            path
        )


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, target)
    return target


def test_placeholder_the_code_does_not_supply_fails_the_check(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "failed_attempt.en.txt"
    # In a branch the sample does not take: the check still sees it.
    path.write_text(
        path.read_text(encoding="utf-8").replace("{{ desk_name }}", "{{ desk_nmae }}"),
        encoding="utf-8",
    )
    with pytest.raises(TemplateError, match="desk_nmae"):
        check_templates(folder)


def test_missing_language_file_fails_the_check(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "reminder.en.txt").unlink()
    with pytest.raises(TemplateError, match=r"reminder\.en\.txt"):
        check_templates(folder)


def test_broken_syntax_and_undeclared_parameters_fail(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "otp.vi.txt").write_text("Mã {{ otp ", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"otp\.vi\.txt"):
        check_templates(folder)
    with pytest.raises(TemplateError, match="missing"):
        render("otp", "vi", {"otp": "1", "number": "EB1"})
    with pytest.raises(TemplateError, match="undeclared"):
        render("otp", "vi", {**MESSAGES["otp"], "extra": 1})


def test_app_refuses_to_start_with_a_broken_template(monkeypatch: pytest.MonkeyPatch) -> None:
    from api import main
    from postal.notify import delivery
    from tests.conftest import make_settings

    def broken() -> None:
        raise TemplateError("otp.vi.txt: unknown placeholder(s) code")

    monkeypatch.setattr(delivery, "check_templates", broken)
    with pytest.raises(TemplateError):
        main.create_app(make_settings("sqlite://"))
