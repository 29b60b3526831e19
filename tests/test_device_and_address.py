"""User-Agent parsing into devices, and the client address rules (pure functions)."""

from __future__ import annotations

import ipaddress

import pytest

from models import DeviceType
from services.client_address import client_address
from services.device import describe_device
from tests.support.graphql_http import DESKTOP_CHROME, IPHONE_SAFARI, WINDOWS_FIREFOX

IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("user_agent", "device_type", "label"),
    [
        (DESKTOP_CHROME, DeviceType.DESKTOP, "Chrome 131 on macOS"),
        (WINDOWS_FIREFOX, DeviceType.DESKTOP, "Firefox 132 on Windows"),
        (IPHONE_SAFARI, DeviceType.MOBILE, "Mobile Safari 17 on iOS"),
        (ANDROID_PHONE, DeviceType.MOBILE, "Chrome Mobile 131 on Android"),
        (IPAD, DeviceType.TABLET, "Mobile Safari 17 on iOS"),
        (ANDROID_TABLET, DeviceType.TABLET, "Chrome 131 on Android"),
        (GOOGLEBOT, DeviceType.BOT, "Googlebot 2"),
        ("curl/8.5.0", DeviceType.OTHER, "curl 8"),
        ("", DeviceType.OTHER, "Unknown device"),
        (None, DeviceType.OTHER, "Unknown device"),
    ],
)
def test_devices_from_user_agents(user_agent: str | None, device_type: DeviceType, label: str) -> None:
    device = describe_device(user_agent)
    assert (device.type, device.label) == (device_type, label)


def test_a_name_given_at_login_wins_and_long_inputs_are_cut() -> None:
    assert describe_device(DESKTOP_CHROME, "  Work laptop ").label == "Work laptop"
    assert len(describe_device("x" * 5000, "n" * 500).user_agent) == 1000
    assert len(describe_device(None, "n" * 500).label) == 200


TRUSTED = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "6.6.6.6", [], "203.0.113.9"),  # nobody trusted: the header is ignored
        ("203.0.113.9", "6.6.6.6", TRUSTED, "203.0.113.9"),  # untrusted peer: ignored
        ("10.1.2.3", "198.51.100.7", TRUSTED, "198.51.100.7"),
        ("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9", TRUSTED, "198.51.100.7"),  # rightmost untrusted hop
        ("10.1.2.3", "not-an-ip", TRUSTED, "10.1.2.3"),
        ("10.1.2.3", "10.4.4.4", TRUSTED, "10.4.4.4"),  # all trusted: the leftmost one
        ("127.0.0.1", None, TRUSTED, "127.0.0.1"),
        (None, None, [], "unknown"),
    ],
)
def test_client_address(
    peer: str | None, forwarded: str | None, trusted: list[ipaddress.IPv4Network], expected: str
) -> None:
    assert client_address(peer, forwarded, trusted) == expected
