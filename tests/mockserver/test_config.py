"""Settings from a config mapping and from VISMOCK_* variables: every bad value is a one-line
VismockError naming the key, never a quiet default (a typo must not turn a switch off)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from vismock.cli import build_parser
from vismock.errors import VismockError
from vismock.mockserver import cli as serve_cli
from vismock.mockserver.config import DEFAULT_MAX_BODY, Settings, config_from_env


def settings_from_env(**environ: str) -> Settings:
    return Settings.from_config(config_from_env(environ))


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("yes", True), ("ON", True), (" true ", True)])
def test_a_switch_reads_the_words_for_true(text: str, expected: bool) -> None:
    assert settings_from_env(VISMOCK_DYNAMIC=text).dynamic is expected


@pytest.mark.parametrize("text", ["0", "no", "off", "False"])
def test_a_switch_reads_the_words_for_false(text: str) -> None:
    assert settings_from_env(VISMOCK_FAST_PATH=text).fast_path is False


@pytest.mark.parametrize("value", ["maybe", "ture", "2"])
def test_a_switch_given_another_word_is_refused(value: str) -> None:
    with pytest.raises(VismockError) as raised:
        settings_from_env(VISMOCK_FAST_PATH=value)
    words = "1, true, yes, on, 0, false, no, off"
    assert str(raised.value) == f"VISMOCK_FAST_PATH: expected one of {words}, not {value!r}"
    with pytest.raises(VismockError, match=r"^VISMOCK_DYNAMIC: expected one of"):
        Settings.from_config({"VISMOCK_DYNAMIC": value})


def test_a_switch_in_a_config_mapping_takes_a_bool_or_its_words() -> None:
    assert Settings.from_config({"VISMOCK_FAST_PATH": False}).fast_path is False
    assert Settings.from_config({"VISMOCK_FAST_PATH": "false"}).fast_path is False  # not bool("false")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("VISMOCK_JOURNAL_CAP", 0, "must be at least 1, not 0"),
        ("VISMOCK_JOURNAL_CAP", 2.5, "expected an integer, not 2.5"),
        ("VISMOCK_JOURNAL_CAP", "10", "expected an integer, not '10'"),
        ("VISMOCK_SOAP_MAX_WAIT", -1.0, "must be at least 0 seconds, not -1.0"),
        ("VISMOCK_SOAP_MAX_WAIT", math.nan, "expected a finite number, not nan"),
        ("VISMOCK_SOAP_MAX_WAIT", math.inf, "expected a finite number, not inf"),
        ("VISMOCK_SESSION_LIFETIME", 0, "must be more than 0 seconds, not 0"),
        ("VISMOCK_MAX_CONTENT_LENGTH", True, "expected an integer, not True"),
    ],
)
def test_a_bad_number_in_a_config_is_refused_naming_its_key(key: str, value: Any, message: str) -> None:
    with pytest.raises(VismockError) as raised:
        Settings.from_config({key: value})
    assert str(raised.value) == f"{key}: {message}"


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("VISMOCK_JOURNAL_CAP", "lots", "expected an integer, not 'lots'"),
        ("VISMOCK_SOAP_MAX_WAIT", "-5", "must be at least 0 seconds, not -5.0"),
        ("VISMOCK_SOAP_MAX_WAIT", "nan", "expected a finite number, not nan"),
        ("VISMOCK_ACCOUNTS", "{user: pw}", 'expected a JSON object such as {"user": "password"}'),
        ("VISMOCK_ACCOUNTS", '["vismock"]', "expected a JSON object of user name -> password strings"),
        (
            "VISMOCK_ALLOWED_HOSTS",
            "vcenter.test, http://vcenter.test:8080",
            "'http://vcenter.test:8080' is not a host name or IP address (give the name alone, such as"
            " vcenter.test: no scheme, port or path)",
        ),
    ],
)
def test_a_bad_environment_variable_is_refused_naming_it(key: str, text: str, message: str) -> None:
    with pytest.raises(VismockError) as raised:
        settings_from_env(**{key: text})
    assert str(raised.value) == f"{key}: {message}"


def test_seconds_may_be_zero_and_counts_keep_their_defaults() -> None:
    settings = settings_from_env(VISMOCK_SOAP_MAX_WAIT="0")
    assert settings.soap_max_wait == 0.0
    assert (settings.max_content_length, settings.journal_cap) == (DEFAULT_MAX_BODY, 10_000)


def _worker_environment(*argv: str) -> dict[str, str]:
    return serve_cli._worker_environment(build_parser().parse_args(["serve", *argv]))


def test_allowed_hosts_are_names_or_addresses_from_text_or_a_list() -> None:
    settings = settings_from_env(VISMOCK_ALLOWED_HOSTS=" VCenter.Test., [2001:DB8::1],10.0.0.5,,vcenter.test")
    assert settings.allowed_hosts == ("vcenter.test", "2001:db8::1", "10.0.0.5")
    assert Settings.from_config({"VISMOCK_ALLOWED_HOSTS": ["vismock"]}).allowed_hosts == ("vismock",)
    with pytest.raises(VismockError, match="VISMOCK_ALLOWED_HOSTS: expected host names separated by commas"):
        Settings.from_config({"VISMOCK_ALLOWED_HOSTS": [5]})
    with pytest.raises(VismockError, match=r"'vcenter\.test:443' is not a host name"):
        Settings.from_config({"VISMOCK_ALLOWED_HOSTS": ["vcenter.test:443"]})


def test_serve_allows_its_own_address_and_each_allow_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISMOCK_ALLOWED_HOSTS", "from-env.test")
    environment = _worker_environment("--host", "192.0.2.10", "--allow-host", "vcenter.test")
    allowed = settings_from_env(**environment).allowed_hosts
    assert allowed == ("from-env.test", "vcenter.test", "192.0.2.10")
    monkeypatch.delenv("VISMOCK_ALLOWED_HOSTS")
    for wildcard in ("0.0.0.0", "::"):  # listening everywhere: loopback and --allow-host names only
        assert settings_from_env(**_worker_environment("--host", wildcard)).allowed_hosts == ()


def test_serve_warns_when_other_machines_reach_it_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISMOCK_ACCOUNTS", raising=False)

    def warning(*argv: str) -> str | None:
        return serve_cli.exposure_warning(build_parser().parse_args(["serve", *argv]))

    for quiet in (
        ["--host", "127.0.0.1"],
        ["--host", "::1"],
        ["--host", "localhost"],
        ["--host", "0.0.0.0", "--admin-token", "t"],
    ):
        assert warning(*quiet) is None, quiet
    for exposed in ("0.0.0.0", "::", "192.0.2.10", "vcenter.test"):
        said = warning("--host", exposed)
        assert said is not None and said.startswith(
            f"vismock serve: warning: --host {exposed} without --admin-token"
        )
        assert "adapter face and the SOAP face (default login: user vismock)" in said
    with_account = warning("--host", "0.0.0.0", "--account", "bmc:s3cret")
    assert with_account is not None and "default login" not in with_account and "s3cret" not in with_account
