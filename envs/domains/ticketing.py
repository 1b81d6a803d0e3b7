"""Support ticketing: create, assign, update, comment on and search help-desk tickets.

This domain is held out: it appears only in the test split (envs.tasks.TEST_ONLY_DOMAINS).
"""

from __future__ import annotations

import datetime
import random
from typing import Any, Literal

from envs.api import SimulatedAPI, ToolError, find_key, new_id, readonly
from envs.intents import Intent, Sample, maybe, opt, people, pick, rand_date, say_date

Priority = Literal["low", "medium", "high", "urgent"]
Status = Literal["open", "in_progress", "resolved", "closed"]
ENTITIES = {
    "train": {"titles": ["Desk phone has no dial tone", "Shared drive is read-only", "Badge does not open door"],
              "comments": ["Checked the cables."]},
    "test": {"titles": ["Printer on floor 3 is jammed", "VPN keeps disconnecting", "Password reset for new hire",
                        "Broken laptop charger", "Email sync fails on phone", "Projector in room 12 flickers",
                        "Request for a second monitor", "Wi-Fi is slow in the lobby"],
             "comments": ["Waiting for the replacement part.", "User confirmed the fix works.",
                          "Escalated to the network team.", "Rebooted the device, monitoring now."]},
}


class TicketingAPI(SimulatedAPI):
    """A help-desk queue: tickets, the agents who work them, and their comments."""

    domain = "ticketing"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "test")

    def _ticket(self, ticket_id: str) -> tuple[str, dict[str, Any]]:
        key = find_key(self.s["tickets"], ticket_id, "ticket")
        return key, self.s["tickets"][key]

    def create_ticket(
        self,
        title: str,
        priority: Priority = "medium",
        tags: list[str] | None = None,
        due_date: datetime.date | None = None,
    ) -> dict[str, Any]:
        """Opens a new support ticket.

        Args:
            title: A short summary of the problem.
            priority: How urgent it is.
            tags: Labels for routing, e.g. ["network"].
            due_date: When it must be solved by.
        """
        if not title.strip():
            raise ToolError("the title must not be empty")
        key = new_id(self.s, "TCK-")
        self.s["tickets"][key] = {"title": title.strip(), "priority": priority, "status": "open", "assignee": None,
                                  "tags": sorted(set(tags or [])), "due": due_date.isoformat() if due_date else None,
                                  "comments": []}
        return {"ticket_id": key, "status": "open"}

    @readonly
    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        """Gets a ticket with its comments.

        Args:
            ticket_id: The ticket, e.g. "TCK-104".
        """
        key, t = self._ticket(ticket_id)
        return {"ticket_id": key, **t}

    def assign_ticket(self, ticket_id: str, assignee: str) -> dict[str, Any]:
        """Assigns a ticket to a support agent.

        Args:
            ticket_id: The ticket.
            assignee: The agent's full name.
        """
        key, t = self._ticket(ticket_id)
        agent = next((a for a in self.s["agents"] if a.casefold() == assignee.strip().casefold()), None)
        if agent is None:
            raise ToolError(f"no agent named {assignee!r}; agents: {', '.join(self.s['agents'])}")
        t["assignee"] = agent
        return {"ticket_id": key, "assignee": agent}

    def update_ticket_status(self, ticket_id: str, status: Status) -> dict[str, Any]:
        """Changes a ticket's status.

        Args:
            ticket_id: The ticket.
            status: The new status.
        """
        key, t = self._ticket(ticket_id)
        if t["status"] == "closed" and status != "open":
            raise ToolError(f"{key} is closed; reopen it first")
        t["status"] = status
        return {"ticket_id": key, "status": status}

    def add_comment(self, ticket_id: str, text: str, internal: bool = False) -> dict[str, Any]:
        """Adds a comment to a ticket.

        Args:
            ticket_id: The ticket.
            text: The comment.
            internal: Visible to agents only.
        """
        key, t = self._ticket(ticket_id)
        t["comments"].append({"text": text, "internal": internal})
        return {"ticket_id": key, "comments": len(t["comments"])}

    @readonly
    def search_tickets(self, query: str = "", status: Status | None = None, assignee: str | None = None) -> list[dict[str, Any]]:
        """Searches tickets by title words, status and assignee.

        Args:
            query: Text to look for in titles; empty matches all.
            status: Only tickets with this status.
            assignee: Only tickets assigned to this agent.
        """
        q = query.strip().casefold()
        who = assignee.strip().casefold() if assignee is not None else None
        return [{"ticket_id": k, "title": t["title"], "status": t["status"], "assignee": t["assignee"]}
                for k, t in self.s["tickets"].items()
                if q in t["title"].casefold() and (status is None or t["status"] == status)
                and (who is None or (t["assignee"] or "").casefold() == who)]


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: three agents and four tickets in various states."""
    agents = people(rng, split, 3)
    state: dict[str, Any] = {"tickets": {}, "agents": agents, "next_id": rng.randrange(100, 900)}
    api = TicketingAPI(state)
    titles = rng.sample(ENTITIES[split]["titles"], min(4, len(ENTITIES[split]["titles"])))
    for title in titles:
        key = api.create_ticket(title, rng.choice(list(Priority.__args__)))["ticket_id"]
        if rng.random() < 0.6:
            api.assign_ticket(key, rng.choice(agents))
        api.update_ticket_status(key, rng.choice(["open", "open", "in_progress", "resolved"]))
    return state


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------

_STATUS_WORDS = {"in_progress": ["in progress"], "resolved": ["resolved", "fixed"], "closed": ["closed"]}


def _create(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    taken = {t["title"] for t in s["tickets"].values()}
    title = pick(rng, [t for t in ENTITIES[split]["titles"] if t not in taken], "no fresh title")
    prio_text, prio = maybe(rng, 0.5, {"high": [" with high priority"], "urgent": [", marked urgent"],
                                       "low": [" at low priority"]})
    day = rand_date(rng, 300)
    due_text, due = maybe(rng, 0.3, {day: [f", due {say_date(rng, day)}"]})
    args = opt(opt({"title": [title]}, "priority", prio), "due_date", due)
    return Sample({"title": f"'{title}'", "priority": prio_text + due_text}, [("create_ticket", args)])


def _assign(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = rng.choice(list(s["tickets"]))
    agent = rng.choice(s["agents"])
    return Sample({"ticket_id": key, "assignee": agent}, [("assign_ticket", {"ticket_id": [key], "assignee": [agent]})])


def _status(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = pick(rng, [k for k, t in s["tickets"].items() if t["status"] != "closed"], "all closed")
    status = rng.choice(list(_STATUS_WORDS))
    return Sample({"ticket_id": key, "status": rng.choice(_STATUS_WORDS[status])},
                  [("update_ticket_status", {"ticket_id": [key], "status": [status]})])


def _comment(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = rng.choice(list(s["tickets"]))
    text = rng.choice(ENTITIES[split]["comments"])
    internal_text, internal = maybe(rng, 0.3, {True: [" as an internal note", " (internal only)"]})
    return Sample({"ticket_id": key, "text": text, "internal": internal_text},
                  [("add_comment", opt({"ticket_id": [key], "text": [text]}, "internal", internal))])


def _close_by_title(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = pick(rng, [k for k, t in s["tickets"].items() if t["status"] != "closed"], "all closed")
    title = s["tickets"][key]["title"]
    return Sample({"title": title.lower()},
                  [("search_tickets", {"query": [title.lower(), title]}),
                   ("update_ticket_status", {"ticket_id": [key], "status": ["closed"]})])


INTENTS = [
    Intent("ticketing.create", (
        "Open a ticket titled {title}{priority}.",
        "Create a support ticket: {title}{priority}.",
        "Log a new issue called {title}{priority}.",
        "Please file a ticket for {title}{priority}.",
        "Can you raise a ticket named {title}{priority}?",
        "Start a help-desk ticket, {title}{priority}.",
    ), _create),
    Intent("ticketing.assign", (
        "Assign {ticket_id} to {assignee}.",
        "Give ticket {ticket_id} to {assignee}.",
        "Please hand {ticket_id} over to {assignee}.",
        "Can {assignee} take ticket {ticket_id}? Assign it to them.",
        "Route {ticket_id} to {assignee}.",
        "Make {assignee} the owner of ticket {ticket_id}.",
    ), _assign, missing={"assignee": (
        "Assign ticket {ticket_id}.",
        "Give {ticket_id} to one of the agents.",
        "Please hand {ticket_id} over to someone.",
        "Find an owner for ticket {ticket_id}.",
        "Route {ticket_id} to an agent.",
        "Ticket {ticket_id} needs an assignee; set one.",
    )}),
    Intent("ticketing.status", (
        "Mark {ticket_id} as {status}.",
        "Set the status of ticket {ticket_id} to {status}.",
        "Ticket {ticket_id} is {status} now; update it.",
        "Please change {ticket_id} to {status}.",
        "Update ticket {ticket_id}: {status}.",
        "Can you flag {ticket_id} as {status}?",
    ), _status),
    Intent("ticketing.comment", (
        "Add a comment to {ticket_id}: '{text}'{internal}.",
        "Comment on ticket {ticket_id} saying '{text}'{internal}.",
        "Note '{text}' on {ticket_id}{internal}.",
        "Please post '{text}' on ticket {ticket_id}{internal}.",
        "Leave a comment on {ticket_id}{internal}: '{text}'",
        "Write '{text}' in the comments of {ticket_id}{internal}.",
    ), _comment),
    Intent("ticketing.close_by_title", (
        "Close the ticket about '{title}'.",
        "Find the '{title}' ticket and close it.",
        "The '{title}' issue is done; close its ticket.",
        "Please close whichever ticket is about '{title}'.",
        "Look up the ticket '{title}' and mark it closed.",
        "Shut the ticket for '{title}'.",
    ), _close_by_title),
]

OUT_OF_SCOPE = (
    "How long does the help desk usually take to answer?",
    "Merge these two duplicate tickets.",
    "Export all tickets to a spreadsheet.",
    "Which agent solved the most tickets this month?",
    "Set up an SLA policy for urgent tickets.",
    "Send the customer a satisfaction survey.",
)
