"""Calendar: create, list, find, reschedule and cancel events."""

from __future__ import annotations

import datetime
import random
from typing import Annotated, Any, Literal

from envs.api import Schema, SimulatedAPI, ToolError, readonly
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
    say_date,
    say_time,
)

Time = Annotated[str, Schema(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
ENTITIES = {
    "train": {"titles": ["Team sync", "Dentist appointment", "Project kickoff", "Budget review", "Yoga class",
                         "Parent-teacher meeting", "Car service", "Book club", "Design review",
                         "Quarterly planning", "Coffee chat", "Guitar lesson"],
              "locations": ["Room 4B", "Main Office", "Cafe Central", "the gym"]},
    "test": {"titles": ["Piano lesson", "Vet appointment", "Sprint retrospective", "Tax consultation", "Haircut",
                        "Board meeting", "Pottery workshop"],
             "locations": ["the library", "Conference Hall", "Studio 2"]},
}


class CalendarAPI(SimulatedAPI):
    """The user's calendar of events."""

    domain = "calendar"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    def _event(self, event_id: int) -> dict[str, Any]:
        event = self.s["events"].get(str(event_id))
        if event is None:
            raise ToolError(f"no event with id {event_id}")
        return event

    def create_event(
        self,
        title: str,
        date: datetime.date,
        start_time: Time,
        duration_minutes: Annotated[int, Schema(minimum=5, maximum=720)] = 60,
        attendees: list[str] | None = None,
        location: str = "",
        reminder: Literal["none", "10m", "1h", "1d"] = "10m",
    ) -> dict[str, Any]:
        """Creates a calendar event.

        Args:
            title: What the event is.
            date: The day of the event.
            start_time: Start time, 24-hour "HH:MM".
            duration_minutes: Length in minutes.
            attendees: Names of people to invite.
            location: Where it takes place.
            reminder: When to remind the user beforehand.
        """
        event_id = self.s["next_id"]
        self.s["next_id"] += 1
        self.s["events"][str(event_id)] = {
            "title": title, "date": date.isoformat(), "start": start_time, "duration_minutes": duration_minutes,
            "attendees": sorted(set(attendees or [])), "location": location, "reminder": reminder}
        return {"event_id": event_id, "title": title, "date": date.isoformat(), "start": start_time}

    @readonly
    def list_events(self, date: datetime.date) -> list[dict[str, Any]]:
        """Lists the events on a day, in start-time order.

        Args:
            date: The day.
        """
        day = date.isoformat()
        rows = [{"event_id": int(k), "title": e["title"], "start": e["start"], "duration_minutes": e["duration_minutes"]}
                for k, e in self.s["events"].items() if e["date"] == day]
        return sorted(rows, key=lambda r: r["start"])

    @readonly
    def find_events(self, query: str) -> list[dict[str, Any]]:
        """Finds events whose title contains the query (case-insensitive).

        Args:
            query: Text to look for in event titles.
        """
        q = query.strip().casefold()
        return [{"event_id": int(k), "title": e["title"], "date": e["date"], "start": e["start"]}
                for k, e in self.s["events"].items() if q in e["title"].casefold()]

    def reschedule_event(self, event_id: int, new_date: datetime.date, new_start_time: Time | None = None) -> dict[str, Any]:
        """Moves an event to another day and, optionally, another start time.

        Args:
            event_id: The event (see find_events).
            new_date: The new day.
            new_start_time: The new start time, "HH:MM"; keeps the old time when omitted.
        """
        event = self._event(event_id)
        event["date"] = new_date.isoformat()
        if new_start_time is not None:
            event["start"] = new_start_time
        return {"event_id": event_id, "date": event["date"], "start": event["start"]}

    def cancel_event(self, event_id: int, notify_attendees: bool = True) -> dict[str, Any]:
        """Cancels (deletes) an event.

        Args:
            event_id: The event (see find_events).
            notify_attendees: Send the attendees a cancellation notice.
        """
        event = self._event(event_id)
        del self.s["events"][str(event_id)]
        return {"cancelled": event_id, "notified": len(event["attendees"]) if notify_attendees else 0}

    def add_attendees(self, event_id: int, attendees: list[str]) -> dict[str, Any]:
        """Invites more people to an event.

        Args:
            event_id: The event (see find_events).
            attendees: Names of the people to add.
        """
        event = self._event(event_id)
        event["attendees"] = sorted(set(event["attendees"]) | set(attendees))  # a set: order carries no meaning
        return {"event_id": event_id, "attendees": list(event["attendees"])}


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: five events with distinct titles over a few days."""
    ent = ENTITIES[split]
    events = {}
    first_id = rng.randrange(10, 90)
    for i, title in enumerate(rng.sample(ent["titles"], 5)):
        events[str(first_id + i)] = {
            "title": title, "date": rand_date(rng, 200), "start": f"{rng.randrange(8, 19):02d}:{rng.choice(['00', '30'])}",
            "duration_minutes": rng.choice([30, 45, 60, 90]), "attendees": sorted(people(rng, split, rng.randint(0, 2))),
            "location": rng.choice(ent["locations"]), "reminder": "10m"}
    return {"events": events, "next_id": first_id + 5}


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------


def _clock(rng: random.Random) -> str:
    return f"{rng.randrange(7, 20):02d}:{rng.choice(['00', '15', '30', '45'])}"


def _create(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    taken = {e["title"] for e in s["events"].values()}
    title = pick(rng, [t for t in ENTITIES[split]["titles"] if t not in taken], "no free title")
    day, start = rand_date(rng, 300), _clock(rng)
    dur_text, duration = maybe(rng, 0.4, {30: [" for 30 minutes", " for half an hour"], 90: [" for 90 minutes"],
                                          120: [" for 2 hours", " for two hours"]})
    names = people(rng, split, rng.randint(1, 2))
    who_text, who = maybe(rng, 0.35, {tuple(names): [f" with {and_list(names)}"]})
    args = opt({"title": [title], "date": [day], "start_time": [start]}, "duration_minutes", duration)
    if who:
        args["attendees"] = orders(list(who))
    return Sample({"title": title, "date": say_date(rng, day), "time": say_time(rng, start),
                   "extra": dur_text + who_text}, [("create_event", args)])


def _list(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    day = rng.choice([e["date"] for e in s["events"].values()] + [rand_date(rng, 200)])
    return Sample({"date": say_date(rng, day)}, [("list_events", {"date": [day]})])


def _unique_event(rng: random.Random, s: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if not s["events"]:
        raise NoSample("no events")
    key = rng.choice(list(s["events"]))
    event = s["events"][key]
    if sum(event["title"].casefold() in e["title"].casefold() for e in s["events"].values()) != 1:
        raise NoSample("title is ambiguous")
    return int(key), event


def _find(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    _, event = _unique_event(rng, s)
    title = event["title"]
    return Sample({"title": title.lower()}, [("find_events", {"query": [title.lower(), title]})])


def _cancel(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    event_id, event = _unique_event(rng, s)
    title = event["title"]
    quiet_text, notify = maybe(rng, 0.25, {False: [" without notifying anyone", " and don't notify the attendees"]})
    return Sample({"title": title.lower(), "notify": quiet_text},
                  [("find_events", {"query": [title.lower(), title]}),
                   ("cancel_event", opt({"event_id": [event_id]}, "notify_attendees", notify))])


def _reschedule(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    event_id, event = _unique_event(rng, s)
    title = event["title"]
    day = rand_date(rng, 300)
    start = _clock(rng)
    time_text, new_start = maybe(rng, 0.5, {start: [f" at {say_time(rng, start)}"]})
    return Sample({"title": title.lower(), "date": say_date(rng, day), "time": time_text},
                  [("find_events", {"query": [title.lower(), title]}),
                   ("reschedule_event", opt({"event_id": [event_id], "new_date": [day]}, "new_start_time", new_start))])


INTENTS = [
    Intent("calendar.create", (
        "Schedule {title} on {date} at {time}{extra}.",
        "Add {title} to my calendar for {date} at {time}{extra}.",
        "Create an event called {title} on {date}, starting at {time}{extra}.",
        "Put {title} in my calendar on {date} at {time}{extra}.",
        "Can you book {title} for {date} at {time}{extra}?",
        "Set up {title} on {date} at {time}{extra}, please.",
        "I have {title} on {date} at {time}{extra}; add it to the calendar.",
        "New calendar entry: {title}, {date}, {time}{extra}.",
    ), _create, missing={"date": (
        "Schedule {title} at {time}{extra}.",
        "Add {title} to my calendar at {time}{extra}.",
        "Create an event called {title}, starting at {time}{extra}.",
        "Put {title} in my calendar at {time}{extra}.",
        "Can you book {title} at {time}{extra}?",
        "Set up {title} at {time}{extra}, please.",
        "I have {title} at {time}{extra}; add it to the calendar.",
        "New calendar entry: {title} at {time}{extra}.",
    )}),
    Intent("calendar.list", (
        "What's on my calendar on {date}?",
        "Show my events for {date}.",
        "Do I have anything scheduled on {date}?",
        "List everything I have on {date}.",
        "What does my day look like on {date}?",
        "Am I busy on {date}?",
        "Tell me my appointments on {date}.",
        "Which events are planned for {date}?",
    ), _list),
    Intent("calendar.find", (
        "When is my {title}?",
        "Find my {title} in the calendar.",
        "Look up the {title} event.",
        "What day is the {title}?",
        "Search my calendar for {title}.",
        "Can you find when {title} is scheduled?",
        "Check when my {title} takes place.",
        "Is there a {title} on my calendar?",
    ), _find),
    Intent("calendar.cancel", (
        "Cancel my {title}{notify}.",
        "Please remove the {title} from my calendar{notify}.",
        "Delete the {title} event{notify}.",
        "I can't make the {title}; cancel it{notify}.",
        "Call off the {title}{notify}.",
        "Scrap my {title}{notify}.",
        "Take the {title} off my calendar{notify}.",
        "The {title} isn't happening anymore, cancel it{notify}.",
    ), _cancel),
    Intent("calendar.reschedule", (
        "Move my {title} to {date}{time}.",
        "Reschedule the {title} for {date}{time}.",
        "Push the {title} to {date}{time}.",
        "Can you shift my {title} to {date}{time}?",
        "Change the {title} to {date}{time}.",
        "Postpone the {title} until {date}{time}.",
        "Please move the {title} over to {date}{time}.",
        "Let's have the {title} on {date}{time} instead.",
    ), _reschedule),
]

OUT_OF_SCOPE = (
    "Share my calendar with my assistant.",
    "Which time zone is my calendar set to?",
    "Print my schedule for the whole month.",
    "Sync my calendar with my phone.",
    "Find a time when the whole team is free next week.",
    "Change the color of my work events.",
    "Show me holidays in Brazil this year.",
    "Export my calendar to a file.",
)
