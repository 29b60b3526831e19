"""Where an address is, looked up once at login (`GEOLOCATION`): off, the offline database that the
`geoip2fast` package ships (nothing leaves the machine), or a MaxMind `.mmdb` file read with `geoip2`.
Private, loopback, reserved and unknown addresses have no location."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Protocol

import geoip2.database
import geoip2.errors
from geoip2fast import GeoIP2Fast

from services.records import LocationRecord

log = logging.getLogger(__name__)

BUILTIN_DATA_FILE = "geoip2fast-ipv6.dat.gz"  # shipped with geoip2fast: countries of IPv4 and IPv6 networks
MAX_NAME_LENGTH = 100


class Locator(Protocol):
    def locate(self, address: str) -> LocationRecord | None: ...


class NoLocation:
    def locate(self, address: str) -> LocationRecord | None:
        return None


class BuiltinLocator:
    def __init__(self) -> None:
        self._data = GeoIP2Fast(geoip2fast_data_file=BUILTIN_DATA_FILE)

    def locate(self, address: str) -> LocationRecord | None:
        if not is_public(address):
            return None
        found = self._data.lookup(address)
        code = str(getattr(found, "country_code", "") or "")
        if len(code) != 2 or not code.isalpha() or getattr(found, "is_private", False):
            return None
        city = getattr(getattr(found, "city", None), "name", None)
        return _location(code, str(found.country_name or code), str(city) if city else None)


class MmdbLocator:
    """A GeoIP2/GeoLite2 City or Country database (`.mmdb`)."""

    def __init__(self, path: Path) -> None:
        self._reader = geoip2.database.Reader(str(path))
        self._has_cities = "City" in self._reader.metadata().database_type

    def locate(self, address: str) -> LocationRecord | None:
        if not is_public(address):
            return None
        try:
            if self._has_cities:
                city = self._reader.city(address)
                country, city_name = city.country, city.city.name
            else:
                country, city_name = self._reader.country(address).country, None
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return None
        if not country.iso_code:
            return None
        return _location(country.iso_code, country.name or country.iso_code, city_name)


def open_locator(setting: str) -> Locator:
    """`off`, `builtin`, or a path to a `.mmdb` file (checked by the settings)."""
    if setting == "off":
        return NoLocation()
    if setting == "builtin":
        return BuiltinLocator()
    return MmdbLocator(Path(setting))


def is_public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


def _location(code: str, country: str, city: str | None) -> LocationRecord:
    return LocationRecord(
        country_code=code.upper(), country=country[:MAX_NAME_LENGTH], city=city[:MAX_NAME_LENGTH] if city else None
    )
