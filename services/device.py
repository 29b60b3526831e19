"""Device description from a User-Agent, via ua-parser (uap-core rules), and how it is shown."""

from __future__ import annotations

from dataclasses import dataclass

import ua_parser

from models.enums import DeviceType
from services.display_text import display_text, storable_text

MAX_LABEL_LENGTH = 200
MAX_USER_AGENT_LENGTH = 1000
# How much of each is shown and returned (services/display_text.py); the stored value keeps its own bound.
DISPLAY_LABEL_LENGTH = 100
DISPLAY_USER_AGENT_LENGTH = 500
MAX_FAMILY_LENGTH = 250

_OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "Debian", "FreeBSD"}
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "KaiOS", "BlackBerry OS"}
_TABLET_HINTS = ("ipad", "tablet", "kindle", "silk", "playbook")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    type: DeviceType
    label: str
    browser: str | None
    os: str | None
    user_agent: str
    family: str = ""  # browser family, OS family and device type: what makes two devices "alike"


def describe_device(user_agent: str | None, device_name: str | None = None) -> DeviceInfo:
    ua = storable_text((user_agent or "").strip()[:MAX_USER_AGENT_LENGTH])
    result = ua_parser.parse(ua) if ua else None
    browser = (
        _name_with_major(result.user_agent.family, result.user_agent.major) if result and result.user_agent else None
    )
    os_name = (
        _name_with_major(_OS_NAMES.get(result.os.family, result.os.family), None) if result and result.os else None
    )
    device_family = result.device.family if result and result.device else ""
    device_type = _device_type(ua, os_name, device_family, result)
    # A name is stored as given, but one with nothing visible in it names nothing: the derived label stands.
    name = (device_name or "").strip()[:MAX_LABEL_LENGTH]
    label = storable_text(name) if display_text(name, DISPLAY_LABEL_LENGTH) else _label(browser, os_name, device_type)
    browser_family = _name_with_major(result.user_agent.family, None) if result and result.user_agent else None
    family = f"{browser_family or '-'}|{os_name or '-'}|{device_type.value}"[:MAX_FAMILY_LENGTH]
    return DeviceInfo(type=device_type, label=label, browser=browser, os=os_name, user_agent=ua, family=family)


def _name_with_major(family: str, major: str | None) -> str | None:
    if not family or family == "Other":
        return None
    return f"{family} {major}" if major else family


def _device_type(ua: str, os_name: str | None, device_family: str, result: ua_parser.Result | None) -> DeviceType:
    lowered = ua.lower()
    if device_family == "Spider" or any(word in lowered for word in ("bot", "spider", "crawler")):
        return DeviceType.BOT
    if any(hint in lowered or hint in device_family.lower() for hint in _TABLET_HINTS):
        return DeviceType.TABLET
    os_family = result.os.family if result and result.os else ""
    if os_family == "Android":
        return DeviceType.MOBILE if "mobile" in lowered else DeviceType.TABLET
    if os_family in _MOBILE_OS or "mobile" in lowered:
        return DeviceType.MOBILE
    if os_family in _DESKTOP_OS or os_name in _DESKTOP_OS:
        return DeviceType.DESKTOP
    return DeviceType.OTHER


def _label(browser: str | None, os_name: str | None, device_type: DeviceType) -> str:
    if browser and os_name:
        return f"{browser} on {os_name}"
    if browser or os_name:
        return browser or os_name or ""
    return "Unknown device" if device_type is not DeviceType.BOT else "Bot"


def shown_label(label: str) -> str:
    return display_text(label, DISPLAY_LABEL_LENGTH)


def shown_user_agent(user_agent: str) -> str:
    return display_text(user_agent, DISPLAY_USER_AGENT_LENGTH)


def shown_software(name: str | None) -> str | None:
    """A browser or OS name (taken from the User-Agent by ua-parser, so the client's text too)."""
    return display_text(name, DISPLAY_LABEL_LENGTH) or None if name is not None else None
