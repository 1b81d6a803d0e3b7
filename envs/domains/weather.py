"""Weather and geography: current conditions, forecasts, coordinates, distances, alert subscriptions."""

from __future__ import annotations

import math
import random
from typing import Annotated, Any, Literal

from envs import entities
from envs.api import Schema, SimulatedAPI, ToolError, readonly
from envs.intents import Intent, Sample, and_list, maybe, opt, orders, pick, say_city

Units = Literal["celsius", "fahrenheit"]
AlertType = Literal["rain", "storm", "heat", "snow", "wind"]
CONDITIONS = ["sunny", "cloudy", "partly cloudy", "rain", "showers", "snow", "windy", "fog"]


class WeatherAPI(SimulatedAPI):
    """Weather data for a set of cities, and the user's weather-alert subscriptions."""

    domain = "weather"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    def _city(self, name: str) -> tuple[str, dict[str, Any]]:
        key = entities.city_aliases().get(name.strip().casefold())
        if key is None or key not in self.s["cities"]:
            raise ToolError(f"no weather data for {name!r}; available cities: {', '.join(self.s['cities'])}")
        return key, self.s["cities"][key]

    @readonly
    def get_current_weather(self, city: str, units: Units = "celsius") -> dict[str, Any]:
        """Gets the current weather in a city.

        Args:
            city: The city name, e.g. "Paris".
            units: Temperature units of the answer.
        """
        name, c = self._city(city)
        return {"city": name, "temperature": _temp(c["temp_c"], units), "units": units,
                "condition": c["condition"], "humidity_pct": c["humidity"], "wind_kph": c["wind_kph"]}

    @readonly
    def get_forecast(
        self, city: str, days: Annotated[int, Schema(minimum=1, maximum=5)] = 3, units: Units = "celsius"
    ) -> dict[str, Any]:
        """Gets the daily weather forecast for a city.

        Args:
            city: The city name.
            days: Number of days to forecast, from 1 to 5.
            units: Temperature units of the answer.
        """
        name, c = self._city(city)
        days_out = [{"day": i + 1, "high": _temp(d["high_c"], units), "low": _temp(d["low_c"], units),
                     "condition": d["condition"]} for i, d in enumerate(c["forecast"][:days])]
        return {"city": name, "units": units, "days": days_out}

    @readonly
    def get_coordinates(self, city: str) -> dict[str, Any]:
        """Gets the latitude, longitude and country of a city.

        Args:
            city: The city name.
        """
        name, c = self._city(city)
        return {"city": name, "country": c["country"], "latitude": c["lat"], "longitude": c["lon"]}

    @readonly
    def distance_between(self, origin: str, destination: str, unit: Literal["km", "mi"] = "km") -> dict[str, Any]:
        """Computes the great-circle distance between two cities.

        Args:
            origin: The first city.
            destination: The second city.
            unit: Kilometers ("km") or miles ("mi").
        """
        a_name, a = self._city(origin)
        b_name, b = self._city(destination)
        km = _haversine_km(a["lat"], a["lon"], b["lat"], b["lon"])
        return {"origin": a_name, "destination": b_name, "distance": round(km if unit == "km" else km / 1.609344, 1),
                "unit": unit}

    def subscribe_alerts(
        self, city: str, alert_types: list[AlertType], channel: Literal["email", "sms", "push"] = "push"
    ) -> dict[str, Any]:
        """Subscribes the user to weather alerts for a city.

        Args:
            city: The city to watch.
            alert_types: Which kinds of weather to be alerted about.
            channel: How alerts are delivered.
        """
        name, _ = self._city(city)
        if not alert_types:
            raise ToolError("alert_types must name at least one kind of weather")
        alert_id = self.s["next_alert_id"]
        self.s["next_alert_id"] += 1
        self.s["alerts"][str(alert_id)] = {"city": name, "alert_types": sorted(set(alert_types)), "channel": channel}
        return {"alert_id": alert_id, "city": name, "alert_types": sorted(set(alert_types)), "channel": channel}

    @readonly
    def list_alerts(self, city: str | None = None) -> list[dict[str, Any]]:
        """Lists the user's alert subscriptions, optionally for one city.

        Args:
            city: Only list alerts for this city.
        """
        name = self._city(city)[0] if city is not None else None
        return [{"alert_id": int(k), **v} for k, v in self.s["alerts"].items() if name in (None, v["city"])]

    def cancel_alert(self, alert_id: int) -> dict[str, Any]:
        """Cancels an alert subscription.

        Args:
            alert_id: The id of the subscription (see list_alerts).
        """
        alert = self.s["alerts"].pop(str(alert_id), None)
        if alert is None:
            raise ToolError(f"no alert with id {alert_id}")
        return {"cancelled": alert_id, "city": alert["city"]}


def _temp(celsius: float, units: str) -> float:
    return round(celsius * 9 / 5 + 32, 1) if units == "fahrenheit" else celsius


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


# Day-to-day swings of a forecast; a city's forecast walks this table from a random offset. (Drawing every
# value separately made building a world several times slower, and the numbers carry no meaning.)
_SWINGS = (1.5, -2.0, 0.5, 3.0, -1.0, -3.5, 2.5, 0.0, -0.5, 1.0)


def build_state(rng: random.Random, split: str, n_cities: int = 5) -> dict[str, Any]:
    """A world: weather for a few of the split's cities and one or two existing alerts."""
    pool = entities.CITIES[split]
    cities = {}
    for name in rng.sample(list(pool), min(n_cities, len(pool))):
        country, lat, lon, _ = pool[name]
        temp = float(rng.randrange(-5, 35))
        k, c = rng.randrange(len(_SWINGS)), rng.randrange(len(CONDITIONS))
        forecast = [{"high_c": temp + _SWINGS[(k + i) % 10], "low_c": temp + _SWINGS[(k + i) % 10] - 6.0,
                     "condition": CONDITIONS[(c + i * 3) % len(CONDITIONS)]} for i in range(5)]
        cities[name] = {"country": country, "lat": lat, "lon": lon, "temp_c": temp, "condition": CONDITIONS[c],
                        "humidity": 30 + 7 * k, "wind_kph": float(4 * k + c), "forecast": forecast}
    alerts = {}
    for i, name in enumerate(rng.sample(list(cities), rng.randint(1, 2)), start=1):
        alerts[str(i)] = {"city": name, "alert_types": sorted(rng.sample(list(AlertType.__args__), 2)),
                          "channel": rng.choice(["email", "sms", "push"])}
    return {"cities": cities, "alerts": alerts, "next_alert_id": len(alerts) + 1}


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------

_UNITS = {"fahrenheit": [" in Fahrenheit", " in degrees Fahrenheit"], "celsius": [" in Celsius"]}


def _current(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = say_city(rng, rng.choice(list(s["cities"])))
    units_text, units = maybe(rng, 0.3, _UNITS)
    return Sample({"city": said, "units": units_text},
                  [("get_current_weather", opt({"city": alts}, "units", units))])


def _forecast(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = say_city(rng, rng.choice(list(s["cities"])))
    units_text, units = maybe(rng, 0.25, _UNITS)
    days = rng.randint(1, 5)
    return Sample({"city": said, "days": str(days), "units": units_text},
                  [("get_forecast", opt({"city": alts, "days": [days]}, "units", units))])


def _coordinates(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = say_city(rng, rng.choice(list(s["cities"])))
    return Sample({"city": said}, [("get_coordinates", {"city": alts})])


def _distance(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    a, b = rng.sample(list(s["cities"]), 2)
    (a_said, a_alts), (b_said, b_alts) = say_city(rng, a), say_city(rng, b)
    unit_text, unit = maybe(rng, 0.4, {"mi": [" in miles"], "km": [" in kilometers", " in km"]})
    return Sample({"origin": a_said, "destination": b_said, "unit": unit_text},
                  [("distance_between", opt({"origin": a_alts, "destination": b_alts}, "unit", unit))])


def _subscribe(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = say_city(rng, rng.choice(list(s["cities"])))
    kinds = rng.sample(list(AlertType.__args__), rng.randint(1, 2))
    channel_text, channel = maybe(rng, 0.5, {"email": [" by email"], "sms": [" via SMS", " by text message"],
                                             "push": [" as push notifications"]})
    return Sample({"city": said, "alert_types": and_list(kinds), "channel": channel_text},
                  [("subscribe_alerts", opt({"city": alts, "alert_types": orders(kinds)}, "channel", channel))])


def _cancel_alert(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    cities = [a["city"] for a in s["alerts"].values()]
    city = pick(rng, [c for c in cities if cities.count(c) == 1], "no city with exactly one alert")
    alert_id = next(int(k) for k, a in s["alerts"].items() if a["city"] == city)
    said, alts = say_city(rng, city)
    return Sample({"city": said}, [("list_alerts", {"city": [*alts, ""]}),
                                   ("cancel_alert", {"alert_id": [alert_id]})])


INTENTS = [
    Intent("weather.current", (
        "What's the weather like in {city}{units}?",
        "How's the weather in {city} right now{units}?",
        "Tell me the current weather in {city}{units}.",
        "Check the current conditions in {city}{units}, please.",
        "Is it warm in {city} today? Give me the current weather{units}.",
        "I'd like to know the weather in {city} at the moment{units}.",
        "Current weather for {city}{units}?",
        "Could you look up how it is outside in {city}{units}?",
    ), _current, missing={"city": (
        "What's the weather like right now{units}?",
        "How's the weather today{units}?",
        "Tell me the current weather{units}.",
        "Can you check the current conditions{units}?",
        "Is it raining outside? Check the weather{units}.",
        "I'd like to know the weather at the moment{units}.",
        "Current weather{units}, please.",
        "Look up how it is outside{units}.",
    )}),
    Intent("weather.forecast", (
        "Give me the {days}-day forecast for {city}{units}.",
        "What will the weather be in {city} over the next {days} days{units}?",
        "Show the forecast for {city} for the next {days} days{units}.",
        "I need a {days}-day weather forecast for {city}{units}.",
        "Forecast for {city}, {days} days{units}, please.",
        "How does the weather look in {city} for the coming {days} days{units}?",
        "Can you pull up the {city} forecast for {days} days{units}?",
        "Predict the weather in {city} for {days} days{units}.",
    ), _forecast),
    Intent("weather.coordinates", (
        "What are the coordinates of {city}?",
        "Give me the latitude and longitude of {city}.",
        "Where exactly is {city}? I need its coordinates.",
        "Look up the GPS coordinates for {city}.",
        "Find the lat/long of {city}.",
        "I need the latitude and longitude of {city}.",
        "Coordinates for {city}, please.",
        "At which latitude and longitude is {city}?",
    ), _coordinates),
    Intent("weather.distance", (
        "How far is {origin} from {destination}{unit}?",
        "What's the distance between {origin} and {destination}{unit}?",
        "Calculate the distance from {origin} to {destination}{unit}.",
        "Measure the straight-line distance from {origin} to {destination}{unit}.",
        "Find out how far {origin} is from {destination}{unit}.",
        "Distance from {origin} to {destination}{unit}?",
        "I wonder how far apart {origin} and {destination} are{unit}.",
        "Work out the distance between {origin} and {destination}{unit}.",
    ), _distance),
    Intent("weather.subscribe", (
        "Subscribe me to {alert_types} alerts for {city}{channel}.",
        "Set up {alert_types} warnings for {city}{channel}.",
        "Alert me about {alert_types} in {city}{channel}.",
        "I want {alert_types} alerts for {city}{channel}.",
        "Please notify me of {alert_types} in {city}{channel}.",
        "Sign me up for {alert_types} alerts in {city}{channel}.",
        "Can I get {alert_types} notifications for {city}{channel}?",
        "Send me an alert when there is {alert_types} in {city}{channel}.",
    ), _subscribe, missing={"alert_types": (
        "Subscribe me to weather alerts for {city}{channel}.",
        "Set up weather warnings for {city}{channel}.",
        "Alert me about the weather in {city}{channel}.",
        "I want weather alerts for {city}{channel}.",
        "Please send me weather alerts for {city}{channel}.",
        "Sign me up for alerts in {city}{channel}.",
        "Can I get weather notifications for {city}{channel}?",
        "Turn on weather alerts for {city}{channel}.",
    )}),
    Intent("weather.cancel_alert", (
        "Cancel my weather alerts for {city}.",
        "Stop the weather alerts I set up for {city}.",
        "I no longer need alerts for {city}; remove that subscription.",
        "Unsubscribe me from the {city} weather alerts.",
        "Turn off my alert subscription for {city}.",
        "Please delete the alert I have for {city}.",
        "Get rid of my {city} weather alert.",
        "End my alert subscription for {city}, please.",
    ), _cancel_alert),
]

# Weather questions these tools cannot answer (in-domain irrelevance).
OUT_OF_SCOPE = (
    "What's the air quality index right now?",
    "When is sunrise tomorrow?",
    "What was the hottest day ever recorded?",
    "Show me a radar map of the approaching storm.",
    "What's the pollen count today?",
    "How much rain fell last March?",
    "What's the UV index at noon?",
    "When does the hurricane season start?",
)
