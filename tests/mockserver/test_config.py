"""Settings from a config mapping and from VISMOCK_* variables: every bad value is a one-line
VismockError naming the key, never a quiet default (a typo must not turn a switch off)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from vismock.errors import VismockError
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
