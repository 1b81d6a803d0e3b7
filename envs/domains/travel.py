"""Travel booking: flight and hotel search, bookings and cancellations."""

from __future__ import annotations

import datetime
import random
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from envs import entities
from envs.api import Schema, SimulatedAPI, ToolError, find_key, new_id, readonly
from envs.intents import (
    Intent,
    NoSample,
    Sample,
    and_list,
    maybe,
    opt,
    orders,
    people,
    pick,
    rand_date,
    say_city,
    say_date,
    say_money,
)

Cabin = Literal["economy", "business", "first"]
ENTITIES = {
    "train": {"hotels": ["Grand Plaza", "Harbor View Inn", "City Lights Hotel", "The Maple Lodge",
                         "Riverside Suites", "Old Town Residence", "Sunset Boutique Hotel", "Park Avenue Hotel"],
              "airlines": ["SkyJet", "AeroNova", "BlueWing"]},
    "test": {"hotels": ["Hotel Aurora", "Cedar Court", "Lakeside Manor", "The Copper Kettle Inn",
                        "Northern Star Hotel"],
             "airlines": ["Polar Air", "Meridian Airways"]},
}


class Passenger(TypedDict):
    """A traveller on a flight booking.

    Attributes:
        name: Full name as on the passport.
        seat: Seat preference.
    """

    name: str
    seat: NotRequired[Literal["window", "aisle", "middle"]]


class TravelAPI(SimulatedAPI):
    """Flights, hotels and the user's bookings."""

    domain = "travel"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    def _city(self, name: str) -> str:
        canonical = entities.city_aliases().get(name.strip().casefold())
        if canonical is None:
            raise ToolError(f"unknown city {name!r}")
        return canonical

    @readonly
    def search_flights(
        self, origin: str, destination: str, date: datetime.date, cabin: Cabin = "economy"
    ) -> list[dict[str, Any]]:
        """Searches flights between two cities on a date.

        Args:
            origin: Departure city.
            destination: Arrival city.
            date: Departure date.
            cabin: Cabin class to price.
        """
        o, d, day = self._city(origin), self._city(destination), date.isoformat()
        return [{"flight_id": fid, "airline": f["airline"], "depart": f["depart"], "cabin": cabin,
                 "price": f["prices"][cabin], "seats_left": f["seats"][cabin]}
                for fid, f in self.s["flights"].items()
                if f["origin"] == o and f["destination"] == d and f["date"] == day]

    def book_flight(self, flight_id: str, passengers: list[Passenger], cabin: Cabin = "economy") -> dict[str, Any]:
        """Books seats on a flight.

        Args:
            flight_id: The flight, as returned by search_flights.
            passengers: One entry per traveller.
            cabin: Cabin class.
        """
        fid = find_key(self.s["flights"], flight_id, "flight")
        flight = self.s["flights"][fid]
        if not passengers:
            raise ToolError("a booking needs at least one passenger")
        if flight["seats"][cabin] < len(passengers):
            raise ToolError(f"only {flight['seats'][cabin]} {cabin} seats left on {fid}")
        flight["seats"][cabin] -= len(passengers)
        booking_id = new_id(self.s, "BK", "next_booking")
        total = round(flight["prices"][cabin] * len(passengers), 2)
        self.s["bookings"][booking_id] = {"kind": "flight", "item": fid, "cabin": cabin, "count": len(passengers),
                                          "passengers": sorted((dict(p) for p in passengers), key=lambda p: p["name"]),
                                          "total": total}
        return {"booking_id": booking_id, "flight_id": fid, "total": total}

    @readonly
    def search_hotels(
        self,
        city: str,
        check_in: datetime.date,
        nights: Annotated[int, Schema(minimum=1, maximum=30)] = 1,
        max_price: float | None = None,
        min_stars: Annotated[int, Schema(minimum=0, maximum=5)] = 0,
    ) -> list[dict[str, Any]]:
        """Searches hotels with free rooms in a city.

        Args:
            city: The city.
            check_in: Arrival date.
            nights: Length of the stay.
            max_price: Highest acceptable price per night, in USD.
            min_stars: Lowest acceptable star rating.
        """
        c = self._city(city)
        return [{"hotel_id": hid, "name": h["name"], "stars": h["stars"], "price_per_night": h["price"],
                 "total": round(h["price"] * nights, 2), "check_in": check_in.isoformat()}
                for hid, h in self.s["hotels"].items()
                if h["city"] == c and h["rooms"] > 0 and h["stars"] >= min_stars
                and (max_price is None or h["price"] <= max_price)]

    def book_hotel(
        self,
        hotel_id: str,
        check_in: datetime.date,
        nights: Annotated[int, Schema(minimum=1, maximum=30)],
        guests: Annotated[int, Schema(minimum=1, maximum=8)] = 1,
    ) -> dict[str, Any]:
        """Books a hotel room.

        Args:
            hotel_id: The hotel, as returned by search_hotels.
            check_in: Arrival date.
            nights: Length of the stay.
            guests: Number of guests in the room.
        """
        hid = find_key(self.s["hotels"], hotel_id, "hotel")
        hotel = self.s["hotels"][hid]
        if hotel["rooms"] < 1:
            raise ToolError(f"{hotel['name']} has no free rooms")
        hotel["rooms"] -= 1
        booking_id = new_id(self.s, "BK", "next_booking")
        total = round(hotel["price"] * nights, 2)
        self.s["bookings"][booking_id] = {"kind": "hotel", "item": hid, "check_in": check_in.isoformat(),
                                          "nights": nights, "guests": guests, "count": 1, "total": total}
        return {"booking_id": booking_id, "hotel": hotel["name"], "total": total}

    @readonly
    def get_booking(self, booking_id: str) -> dict[str, Any]:
        """Gets the details of a booking.

        Args:
            booking_id: The booking reference, e.g. "BK3".
        """
        bid = find_key(self.s["bookings"], booking_id, "booking")
        return {"booking_id": bid, **self.s["bookings"][bid]}

    def cancel_booking(self, booking_id: str) -> dict[str, Any]:
        """Cancels a booking and releases its seats or room.

        Args:
            booking_id: The booking reference.
        """
        bid = find_key(self.s["bookings"], booking_id, "booking")
        booking = self.s["bookings"].pop(bid)
        if booking["kind"] == "flight":
            self.s["flights"][booking["item"]]["seats"][booking["cabin"]] += booking["count"]
        else:
            self.s["hotels"][booking["item"]]["rooms"] += 1
        return {"cancelled": bid, "refund": booking["total"]}


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: flights among four of the split's cities (one per route and day), hotels, two bookings."""
    ent = ENTITIES[split]
    cities = rng.sample(list(entities.CITIES[split]), 4)
    flights: dict[str, Any] = {}
    routes = set()
    while len(flights) < 6:
        o, d = rng.sample(cities, 2)
        day = rand_date(rng, 300)
        if (o, d, day) in routes:
            continue
        routes.add((o, d, day))
        k = rng.randrange(10_000)  # one draw spread over the flight's details: building worlds must be cheap
        base = 80.0 + 10 * (k % 52)
        flights[f"FL{100 + len(flights) * 7 + k % 7}"] = {
            "origin": o, "destination": d, "date": day, "airline": ent["airlines"][k % len(ent["airlines"])],
            "depart": f"{6 + k % 16:02d}:{('00', '15', '30', '45')[k // 16 % 4]}",
            "prices": {"economy": base, "business": base * 3, "first": base * 6},
            "seats": {"economy": 5 + k % 35, "business": 2 + k // 7 % 6, "first": 1 + k // 11 % 3},
        }
    hotels = {}
    names = rng.sample(ent["hotels"], 5)
    for i, name in enumerate(names):
        k = rng.randrange(10_000)
        hotels[f"HT{200 + i * 11 + k % 11}"] = {
            "name": name, "city": cities[i % 3], "stars": 2 + k % 4, "price": 60.0 + 10 * (k % 34), "rooms": 1 + k % 5}
    state = {"flights": flights, "hotels": hotels, "bookings": {}, "next_booking": rng.randrange(10, 90)}
    api = TravelAPI(state)  # existing bookings made through the API itself, so they are consistent
    fid = rng.choice(list(flights))
    api.book_flight(fid, [{"name": n} for n in people(rng, split, 1)], "economy")
    hid = rng.choice(list(hotels))
    api.book_hotel(hid, datetime.date.fromisoformat(rand_date(rng, 300)), rng.randint(1, 5), 2)
    return state


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------

_CABIN = {"business": [" in business class", " flying business"], "first": [" in first class"],
          "economy": [" in economy"]}


def _flight(rng: random.Random, s: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, str], dict[str, list]]:
    fid = rng.choice(list(s["flights"]))
    f = s["flights"][fid]
    (o_said, o_alts), (d_said, d_alts) = say_city(rng, f["origin"]), say_city(rng, f["destination"])
    slots = {"origin": o_said, "destination": d_said, "date": say_date(rng, f["date"])}
    return fid, f, slots, {"origin": o_alts, "destination": d_alts, "date": [f["date"]]}


def _search_flights(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    _, _, slots, args = _flight(rng, s)
    slots["cabin"], cabin = maybe(rng, 0.35, _CABIN)
    return Sample(slots, [("search_flights", opt(args, "cabin", cabin))])


def _passengers(rng: random.Random, split: str) -> tuple[str, list[list[dict[str, list]]]]:
    names = people(rng, split, rng.randint(1, 2))
    seat = rng.choice(["window", "aisle"]) if len(names) == 1 and rng.random() < 0.3 else None
    said = and_list(names) + (f" (a {seat} seat)" if seat else "")
    answers = [[{"name": [n], **({"seat": [seat]} if seat else {})} for n in order] for order in orders(names)]
    return said, answers


def _book_flight(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    fid = pick(rng, [f for f, v in s["flights"].items() if v["seats"]["economy"] >= 2], "no flight with free seats")
    said, answers = _passengers(rng, split)
    cabin_text, cabin = maybe(rng, 0.2, {"business": [" in business class"]})
    return Sample({"flight_id": fid, "passengers": said, "cabin": cabin_text},
                  [("book_flight", opt({"flight_id": [fid], "passengers": answers}, "cabin", cabin))])


def _book_route(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    fid, f, slots, args = _flight(rng, s)
    if f["seats"]["economy"] < 2:
        raise NoSample("flight is full")
    slots["passengers"], answers = _passengers(rng, split)
    return Sample(slots, [("search_flights", args),
                          ("book_flight", {"flight_id": [fid], "passengers": answers})])


def _stay(rng: random.Random, s: dict[str, Any], hid: str) -> tuple[dict[str, str], dict[str, list], str]:
    h = s["hotels"][hid]
    said, alts = say_city(rng, h["city"])
    check_in, nights = rand_date(rng, 300), rng.randint(2, 7)
    slots = {"city": said, "check_in": say_date(rng, check_in), "nights": str(nights), "hotel": h["name"]}
    return slots, {"city": alts, "check_in": [check_in], "nights": [nights]}, check_in


def _search_hotels(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    slots, args, _ = _stay(rng, s, rng.choice(list(s["hotels"])))
    price = float(rng.choice([100, 150, 200, 250, 300]))
    slots["max_price"], max_price = maybe(rng, 0.4, {price: [f" under {say_money(rng, price)} a night"]})
    return Sample(slots, [("search_hotels", opt(args, "max_price", max_price))])


def _book_named_hotel(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    hid = pick(rng, [h for h, v in s["hotels"].items() if v["rooms"] > 0], "no free rooms")
    slots, args, check_in = _stay(rng, s, hid)
    guests = rng.randint(1, 3)
    slots["guests"] = {1: "one guest", 2: "two guests", 3: "three guests"}[guests]
    return Sample(slots, [("search_hotels", args),
                          ("book_hotel", {"hotel_id": [hid], "check_in": [check_in], "nights": args["nights"],
                                          "guests": [guests]})])


def _cancel(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    if not s["bookings"]:
        raise NoSample("no bookings")
    bid = rng.choice(list(s["bookings"]))
    return Sample({"booking_id": bid}, [("cancel_booking", {"booking_id": [bid]})])


def _get_booking(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    sample = _cancel(rng, s, split)
    return Sample(sample.slots, [("get_booking", sample.calls[0][1])])


INTENTS = [
    Intent("travel.search_flights", (
        "Find flights from {origin} to {destination} on {date}{cabin}.",
        "Are there any flights from {origin} to {destination} on {date}{cabin}?",
        "Search for a flight from {origin} to {destination} departing {date}{cabin}.",
        "I need to fly from {origin} to {destination} on {date}. What are my options{cabin}?",
        "Show me flights on {date} from {origin} to {destination}{cabin}.",
        "Look up {origin} to {destination} flights for {date}{cabin}.",
        "What flights go from {origin} to {destination} on {date}{cabin}?",
        "Check flight availability from {origin} to {destination} on {date}{cabin}.",
    ), _search_flights, missing={"date": (
        "Find me a flight from {origin} to {destination}{cabin}.",
        "Are there any flights from {origin} to {destination}{cabin}?",
        "Search for flights from {origin} to {destination}{cabin}.",
        "I need to fly from {origin} to {destination}. What are my options{cabin}?",
        "Show me flights from {origin} to {destination}{cabin}.",
        "Look up {origin} to {destination} flights{cabin}.",
        "What flights go from {origin} to {destination}{cabin}?",
        "Check flights from {origin} to {destination}{cabin}, please.",
    )}),
    Intent("travel.search_hotels", (
        "Find a hotel in {city} for {nights} nights from {check_in}{max_price}.",
        "I need a place to stay in {city} starting {check_in} for {nights} nights{max_price}.",
        "Search hotels in {city}, check-in {check_in}, {nights} nights{max_price}.",
        "Are there hotels available in {city} from {check_in} for {nights} nights{max_price}?",
        "Look for accommodation in {city}: {nights} nights from {check_in}{max_price}.",
        "Show me hotels in {city} for {nights} nights beginning {check_in}{max_price}.",
        "Where can I stay in {city} from {check_in} for {nights} nights{max_price}?",
        "Hotel options in {city}, arriving {check_in}, staying {nights} nights{max_price}?",
    ), _search_hotels),
    Intent("travel.book_flight", (
        "Book flight {flight_id} for {passengers}{cabin}.",
        "Reserve seats on {flight_id} for {passengers}{cabin}.",
        "Please book {passengers} on flight {flight_id}{cabin}.",
        "Get {passengers} a ticket on {flight_id}{cabin}.",
        "I'd like to book flight {flight_id}{cabin}. The travellers: {passengers}.",
        "Put {passengers} on flight {flight_id}{cabin}.",
        "Make a flight booking on {flight_id} for {passengers}{cabin}.",
        "Secure seats on flight {flight_id} for {passengers}{cabin}, please.",
    ), _book_flight),
    Intent("travel.cancel_booking", (
        "Cancel my booking {booking_id}.",
        "Please cancel reservation {booking_id}.",
        "I need to cancel booking {booking_id}.",
        "Drop reservation {booking_id}, my plans changed.",
        "Can you cancel {booking_id} for me?",
        "Call off booking {booking_id}.",
        "Cancel the reservation with reference {booking_id}.",
        "My trip is off; cancel booking {booking_id}.",
    ), _cancel),
    Intent("travel.get_booking", (
        "Show me the details of booking {booking_id}.",
        "What's in my reservation {booking_id}?",
        "Pull up booking {booking_id}.",
        "Look up reservation {booking_id} for me.",
        "What did I book under {booking_id}?",
        "I'd like to review booking {booking_id}.",
        "Give me the summary of reservation {booking_id}.",
        "Retrieve the booking {booking_id}, please.",
    ), _get_booking),
    Intent("travel.book_route", (
        "Book {passengers} on the flight from {origin} to {destination} on {date}.",
        "Find the {date} flight from {origin} to {destination} and book it for {passengers}.",
        "Get {passengers} on the flight from {origin} to {destination} on {date}.",
        "There's a flight from {origin} to {destination} on {date}; reserve it for {passengers}.",
        "Please book the {origin} to {destination} flight on {date} for {passengers}.",
        "Reserve the flight from {origin} to {destination} on {date} for {passengers}.",
        "I want the {date} flight from {origin} to {destination}; book it for {passengers}.",
        "Book {passengers} a seat on the {date} flight from {origin} to {destination}.",
    ), _book_route),
    Intent("travel.book_named_hotel", (
        "Book a room at {hotel} in {city} from {check_in} for {nights} nights, {guests}.",
        "Reserve {hotel} in {city} for {nights} nights starting {check_in} for {guests}.",
        "I'd like to stay at {hotel} in {city}: check-in {check_in}, {nights} nights, {guests}.",
        "Get me a room at {hotel} ({city}) from {check_in}, {nights} nights, {guests}.",
        "Please book {hotel} in {city} for {guests}, arriving {check_in} for {nights} nights.",
        "Book {hotel} in {city} for {nights} nights from {check_in}, {guests}.",
        "Can you reserve a room at {hotel} in {city} from {check_in} for {nights} nights for {guests}?",
        "Make a reservation at {hotel}, {city}, {nights} nights from {check_in}, {guests}.",
    ), _book_named_hotel),
]

OUT_OF_SCOPE = (
    "What's the baggage allowance on my flight?",
    "Upgrade my seat to first class using my miles.",
    "Do I need a visa to visit Japan?",
    "Rent a car for me at the airport.",
    "How many frequent flyer miles do I have?",
    "Which terminal does my flight leave from?",
    "Book me a train ticket to the coast.",
    "Is travel insurance included in my booking?",
)
