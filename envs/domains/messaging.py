"""Email and messaging: contacts, sending, searching, filing and marking messages."""

from __future__ import annotations

import random
from typing import Any, Literal

from envs.api import SimulatedAPI, ToolError, find_key, readonly
from envs.intents import Intent, NoSample, Sample, and_list, email_of, maybe, opt, orders, people, pick

Folder = Literal["inbox", "archive", "sent", "spam", "trash"]
ENTITIES = {
    "train": {"subjects": ["Quarterly report", "Dinner on Friday", "Project update", "Invoice 2291", "Trip photos",
                           "Team offsite", "Weekly newsletter", "Job application"],
              "bodies": ["See you at 7pm.", "The draft is attached.", "Can we move the call to Thursday?",
                         "Thanks for your help!", "Please review it by Monday.", "The meeting room is booked."]},
    "test": {"subjects": ["Lease renewal", "Conference agenda", "Birthday plans", "Server maintenance",
                          "Volunteer schedule"],
             "bodies": ["Running ten minutes late.", "The numbers look good.", "Let's celebrate on Saturday.",
                        "I fixed the typo you found."]},
}


class MessagingAPI(SimulatedAPI):
    """The user's mailbox and address book."""

    domain = "messaging"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    def _message(self, message_id: str) -> tuple[str, dict[str, Any]]:
        key = find_key(self.s["messages"], message_id, "message")
        return key, self.s["messages"][key]

    def send_email(
        self,
        to: list[str],
        subject: str,
        body: str,
        cc: list[str] | None = None,
        priority: Literal["low", "normal", "high"] = "normal",
    ) -> dict[str, Any]:
        """Sends an email.

        Args:
            to: Recipient email addresses.
            subject: Subject line.
            body: Message text.
            cc: Addresses to copy.
            priority: Importance flag shown to recipients.
        """
        recipients = list(to) + list(cc or [])
        if not to:
            raise ToolError("an email needs at least one recipient")
        for address in recipients:
            if "@" not in address or " " in address.strip():
                raise ToolError(f"{address!r} is not an email address; look names up with get_contact")
        message_id = f"M{self.s['next_id']}"
        self.s["next_id"] += 1
        self.s["messages"][message_id] = {"folder": "sent", "from": "me", "to": list(to), "cc": list(cc or []),
                                          "subject": subject, "body": body, "priority": priority, "read": True}
        return {"message_id": message_id, "status": "sent"}

    @readonly
    def get_contact(self, name: str) -> dict[str, Any]:
        """Looks up a contact's email address and phone number.

        Args:
            name: The contact's name.
        """
        key = find_key(self.s["contacts"], name, "contact")
        return {"name": key, **self.s["contacts"][key]}

    @readonly
    def search_messages(self, query: str = "", folder: Folder = "inbox", unread_only: bool = False) -> list[dict[str, Any]]:
        """Searches messages in a folder by sender, subject or text.

        Args:
            query: Text to look for; empty matches everything.
            folder: The folder to search.
            unread_only: Only unread messages.
        """
        q = query.strip().casefold()
        return [{"message_id": k, "from": m["from"], "subject": m["subject"], "read": m["read"]}
                for k, m in self.s["messages"].items()
                if m["folder"] == folder and (not unread_only or not m["read"])
                and q in f"{m['from']} {m['subject']} {m['body']}".casefold()]

    def mark_as_read(self, message_ids: list[str]) -> dict[str, Any]:
        """Marks messages as read.

        Args:
            message_ids: The messages, e.g. ["M12", "M14"].
        """
        keys = [self._message(m)[0] for m in message_ids]  # all must exist before anything changes
        for key in keys:
            self.s["messages"][key]["read"] = True
        return {"marked": keys}

    def move_message(self, message_id: str, folder: Literal["inbox", "archive", "spam", "trash"]) -> dict[str, Any]:
        """Moves a message to another folder.

        Args:
            message_id: The message, e.g. "M12".
            folder: The destination folder.
        """
        key, message = self._message(message_id)
        message["folder"] = folder
        return {"message_id": key, "folder": folder}


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: four contacts and five inbox messages from them (some unread)."""
    contacts = {}
    for name in people(rng, split, 4):
        contacts[name] = {"email": email_of(name, split, rng), "phone": f"555-{rng.randrange(1000, 9999)}"}
    messages = {}
    first = rng.randrange(100, 900)
    subjects = rng.sample(ENTITIES[split]["subjects"], 5)
    for i, subject in enumerate(subjects):
        messages[f"M{first + i}"] = {"folder": "inbox", "from": rng.choice(list(contacts)), "to": ["me"], "cc": [],
                                     "subject": subject, "body": rng.choice(ENTITIES[split]["bodies"]),
                                     "priority": "normal", "read": rng.random() < 0.4}
    return {"contacts": contacts, "messages": messages, "next_id": first + 5}


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------

_PRIORITY = {"high": [" and mark it as high priority", " marked urgent"], "low": [" with low priority"]}


def _letter(rng: random.Random, split: str) -> tuple[str, str, str, Any]:
    subject = rng.choice(ENTITIES[split]["subjects"])
    body = rng.choice(ENTITIES[split]["bodies"])
    text, priority = maybe(rng, 0.25, _PRIORITY)
    return subject, body, text, priority


def _send(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    address = email_of(people(rng, split, 1)[0], split, rng)
    subject, body, priority_text, priority = _letter(rng, split)
    return Sample({"to": address, "subject": subject, "body": f"'{body}'", "priority": priority_text},
                  [("send_email", opt({"to": [[address]], "subject": [subject], "body": [body]}, "priority", priority))])


def _send_to_contact(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    name = rng.choice(list(s["contacts"]))
    subject, body, priority_text, priority = _letter(rng, split)
    return Sample({"name": name, "subject": subject, "body": f"'{body}'", "priority": priority_text},
                  [("get_contact", {"name": [name]}),
                   ("send_email", opt({"to": [[s["contacts"][name]["email"]]], "subject": [subject], "body": [body]},
                                      "priority", priority))])


def _contact(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    name = rng.choice(list(s["contacts"]))
    return Sample({"name": name}, [("get_contact", {"name": [name]})])


def _search(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    sender = pick(rng, [m["from"] for m in s["messages"].values() if m["folder"] == "inbox"], "empty inbox")
    unread_text, unread = maybe(rng, 0.4, {True: [" unread"]})
    return Sample({"sender": sender, "unread": unread_text},
                  [("search_messages", opt({"query": [sender]}, "unread_only", unread))])


def _file(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    key = pick(rng, [k for k, m in s["messages"].items() if m["folder"] == "inbox"], "empty inbox")
    folder = rng.choice(["archive", "archive", "spam", "trash"])
    where = {"archive": "the archive", "spam": "spam", "trash": "the trash"}[folder]
    return Sample({"message_id": key, "where": where},
                  [("move_message", {"message_id": [key], "folder": [folder]})])


def _mark_read(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    unread = [k for k, m in s["messages"].items() if not m["read"]]
    if not unread:
        raise NoSample("nothing unread")
    keys = rng.sample(unread, min(len(unread), rng.randint(1, 2)))
    return Sample({"message_ids": and_list(keys)}, [("mark_as_read", {"message_ids": orders(keys)})])


INTENTS = [
    Intent("messaging.send", (
        "Email {to} with the subject '{subject}' saying {body}{priority}.",
        "Send an email to {to}, subject '{subject}', body {body}{priority}.",
        "Write to {to} about '{subject}': {body}{priority}",
        "Please send {to} a message titled '{subject}' that says {body}{priority}.",
        "Shoot an email to {to} with subject '{subject}' and the text {body}{priority}.",
        "Compose an email for {to}. Subject: '{subject}'. Message: {body}{priority}",
        "Drop {to} a line titled '{subject}' reading {body}{priority}.",
        "Mail {to} with '{subject}' as the subject and {body} as the message{priority}.",
    ), _send, missing={"body": (
        "Email {to} with the subject '{subject}'{priority}.",
        "Send an email to {to}, subject '{subject}'{priority}.",
        "Write to {to} about '{subject}'{priority}.",
        "Please send {to} a message titled '{subject}'{priority}.",
        "Shoot an email to {to} with subject '{subject}'{priority}.",
        "Compose an email for {to}. Subject: '{subject}'{priority}.",
        "Drop {to} a line titled '{subject}'{priority}.",
        "Mail {to} with '{subject}' as the subject{priority}.",
    )}),
    Intent("messaging.send_to_contact", (
        "Email {name} with the subject '{subject}' saying {body}{priority}.",
        "Send {name} an email, subject '{subject}', body {body}{priority}.",
        "Write to {name} about '{subject}': {body}{priority}",
        "Please message {name} by email. Subject '{subject}', text {body}{priority}.",
        "Look up {name}'s address and email them '{subject}' with {body}{priority}.",
        "Compose an email to {name}. Subject: '{subject}'. Message: {body}{priority}",
        "Drop {name} an email titled '{subject}' reading {body}{priority}.",
        "Mail {name} with '{subject}' as the subject and {body} as the message{priority}.",
    ), _send_to_contact),
    Intent("messaging.contact", (
        "What's {name}'s email address?",
        "Look up the contact details for {name}.",
        "How can I reach {name}? Get their contact info.",
        "Find {name} in my contacts.",
        "Give me the phone number and email of {name}.",
        "I need {name}'s contact details.",
        "Pull up {name} from the address book.",
        "Which email does {name} use?",
    ), _contact),
    Intent("messaging.search", (
        "Do I have any{unread} emails from {sender}?",
        "Search my inbox for{unread} messages from {sender}.",
        "Find{unread} mail from {sender}.",
        "Show me the{unread} emails {sender} sent me.",
        "Has {sender} sent me any{unread} messages?",
        "Look for{unread} messages by {sender} in my inbox.",
        "Are there{unread} emails from {sender} waiting for me?",
        "List{unread} inbox messages from {sender}.",
    ), _search),
    Intent("messaging.file", (
        "Move message {message_id} to {where}, please.",
        "Move email {message_id} to {where}.",
        "Please put message {message_id} in {where}.",
        "Send {message_id} to {where}.",
        "File message {message_id} under {where}.",
        "Can you move {message_id} into {where}?",
        "Shift email {message_id} over to {where}.",
        "I want message {message_id} in {where}.",
    ), _file),
    Intent("messaging.mark_read", (
        "Mark {message_ids} as read.",
        "Please mark messages {message_ids} read.",
        "Set {message_ids} to read.",
        "I've seen {message_ids}; mark them as read.",
        "Flag {message_ids} as read, please.",
        "Can you mark {message_ids} as read?",
        "Clear the unread flag on {message_ids}.",
        "Messages {message_ids} are read now; update them.",
    ), _mark_read),
]

OUT_OF_SCOPE = (
    "Unsubscribe me from all newsletters.",
    "Set up an out-of-office auto-reply.",
    "Block this sender permanently.",
    "Translate my last email into French.",
    "Recall the email I sent by mistake.",
    "Schedule an email to go out tomorrow morning.",
    "Change my email signature.",
    "How much storage does my mailbox use?",
)
