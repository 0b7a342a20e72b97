"""The operator's config file: defaults, file values, environment overrides, one clear line per bad key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tui.config import ConfigError, load_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for k in ("PLANDESK_CONFIG", "PLANDESK_BELL", "PLANDESK_OPERATOR", "PLANDESK_SLIPPAGE", "PLANDESK_THEME",
              "PLANDESK_STALE_AFTER_S", "PLANDESK_KEYMAP"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def test_missing_default_file_gives_defaults() -> None:
    cfg = load_config()
    assert cfg.bell is True and cfg.slippage == Decimal("0.02") and cfg.operator is None


def test_default_path_is_the_platform_config_dir(tmp_path: Path) -> None:
    d = tmp_path / "xdg" / "plandesk"
    d.mkdir(parents=True)
    (d / "config.toml").write_text('operator = "anna"\n')
    assert load_config().operator == "anna"


def test_file_values_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, 'operator = "anna"\nslippage = "0.05"\nbell = false\n[keymap]\nstop = "ctrl+t"\n')
    cfg = load_config(p)
    assert (cfg.operator, cfg.slippage, cfg.bell, cfg.keymap) == ("anna", Decimal("0.05"), False, {"stop": "ctrl+t"})
    monkeypatch.setenv("PLANDESK_BELL", "true")
    monkeypatch.setenv("PLANDESK_OPERATOR", "bob")
    cfg = load_config(p)
    assert cfg.bell is True and cfg.operator == "bob"


@pytest.mark.parametrize("text,needle", [
    ('bell = "loud"\n', "bell:"),
    ('slippage = "1e1000000"\n', "slippage:"),
    ('slippage = "0,5"\n', "slippage:"),
    ('slippage = "1.5"\n', "slippage:"),
    ('stale_after_s = -1\n', "stale_after_s:"),
    ('theme = "neon"\n', "theme:"),
    ('colour = "red"\n', "colour: unknown key"),
    ('[keymap]\nstop = "ctrl t!"\n', "keymap"),
    ('operator = "a\\u001b[31m"\n', "operator:"),
    ('bell = true\nbell = false\n', "not valid TOML"),
    ("not toml at all [", "not valid TOML"),
])
def test_bad_file_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert "\n" not in msg and needle in msg and str(p) in msg


def test_bad_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANDESK_BELL", "maybe")
    with pytest.raises(ConfigError, match="PLANDESK_BELL: bell"):
        load_config()


def test_unknown_binding_id_in_keymap(tmp_path: Path) -> None:
    p = write(tmp_path, '[keymap]\nteleport = "x"\n')
    with pytest.raises(ConfigError, match="keymap.teleport: no binding"):
        load_config(p, known_bindings={"stop", "scale"})


def test_explicit_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(tmp_path)
