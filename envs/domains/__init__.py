"""The simulated API domains: one module per domain, each with its API class, world builder and intents.

A domain module defines:
    <Name>API         the SimulatedAPI subclass (its public methods are the tools)
    build_state       (rng, split) -> a fresh world for a task, drawn from the split's entity pools
    INTENTS           the requests users make (envs.intents.Intent)
    OUT_OF_SCOPE      on-topic requests that none of the domain's tools can serve
    ENTITIES          (optional) the domain's own entity pools, {"train": {...}, "test": {...}}
"""

from __future__ import annotations

from types import ModuleType

from envs.api import SimulatedAPI
from envs.domains import (
                          banking,
                          calculator,
                          calendar,
                          filesystem,
                          messaging,
                          shop,
                          smart_home,
                          ticketing,
                          trading,
                          travel,
                          weather,
)

_ALL = (banking.BankingAPI, calculator.CalculatorAPI, calendar.CalendarAPI, filesystem.FilesystemAPI,
        messaging.MessagingAPI, shop.ShopAPI, smart_home.SmartHomeAPI, ticketing.TicketingAPI, trading.TradingAPI,
        travel.TravelAPI, weather.WeatherAPI)

DOMAINS: dict[str, type[SimulatedAPI]] = {cls.domain: cls for cls in _ALL}
MODULES: dict[str, ModuleType] = {
    m.__name__.rsplit(".", 1)[1]: m
    for m in (banking, calculator, calendar, filesystem, messaging, shop, smart_home, ticketing, trading, travel, weather)
}
