"""Smart home: lights, thermostats, locks and speakers, and scenes that set several at once.

This domain is held out: it appears only in the test split (envs.tasks.TEST_ONLY_DOMAINS).
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from envs.api import Schema, SimulatedAPI, ToolError, find_key, readonly
from envs.intents import Intent, Sample, maybe, opt, pick

DeviceType = Literal["light", "thermostat", "lock", "speaker"]
Color = Literal["warm white", "cool white", "red", "green", "blue", "purple", "orange"]
ENTITIES = {
    "train": {"rooms": ["study", "attic", "porch"], "scenes": ["Morning", "Reading"]},
    "test": {"rooms": ["living room", "bedroom", "kitchen", "office", "hallway", "basement"],
             "scenes": ["Movie night", "Good night", "Dinner party", "Wake up", "Focus time"]},
}


class SceneAction(TypedDict):
    """What a scene does to one device.

    Attributes:
        device: The device name.
        on: Turn it on or off.
        brightness: Brightness percentage for lights.
    """

    device: str
    on: bool
    brightness: NotRequired[Annotated[int, Schema(minimum=0, maximum=100)]]


class SmartHomeAPI(SimulatedAPI):
    """The devices of a connected home, addressed by name (e.g. "kitchen light")."""

    domain = "smart_home"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "test")

    def _device(self, name: str, *kinds: str) -> tuple[str, dict[str, Any]]:
        key = find_key(self.s["devices"], name, "device")
        device = self.s["devices"][key]
        if kinds and device["type"] not in kinds:
            raise ToolError(f"{key} is a {device['type']}, not a {' or '.join(kinds)}")
        return key, device

    @readonly
    def list_devices(self, room: str | None = None, device_type: DeviceType | None = None) -> list[dict[str, Any]]:
        """Lists devices and their state, optionally filtered.

        Args:
            room: Only devices in this room.
            device_type: Only devices of this kind.
        """
        r = room.strip().casefold() if room is not None else None
        return [{"device": k, **d} for k, d in self.s["devices"].items()
                if (r is None or d["room"] == r) and (device_type is None or d["type"] == device_type)]

    def set_power(self, device: str, on: bool) -> dict[str, Any]:
        """Turns a light or speaker on or off.

        Args:
            device: The device name.
            on: True to turn it on, False to turn it off.
        """
        key, d = self._device(device, "light", "speaker")
        d["on"] = on
        return {"device": key, "on": on}

    def set_brightness(self, device: str, level: Annotated[int, Schema(minimum=0, maximum=100)]) -> dict[str, Any]:
        """Sets a light's brightness (0 turns it off, anything else turns it on).

        Args:
            device: The light's name.
            level: Brightness in percent.
        """
        key, d = self._device(device, "light")
        d["brightness"], d["on"] = level, level > 0
        return {"device": key, "brightness": level, "on": d["on"]}

    def set_light_color(self, device: str, color: Color) -> dict[str, Any]:
        """Changes a light's color.

        Args:
            device: The light's name.
            color: The new color.
        """
        key, d = self._device(device, "light")
        d["color"] = color
        return {"device": key, "color": color}

    def set_thermostat(
        self,
        device: str,
        temperature: Annotated[float, Schema(minimum=10, maximum=30)],
        mode: Literal["heat", "cool", "auto", "off"] = "auto",
    ) -> dict[str, Any]:
        """Sets a thermostat's target temperature (Celsius) and mode.

        Args:
            device: The thermostat's name.
            temperature: Target temperature in degrees Celsius.
            mode: Heating mode.
        """
        key, d = self._device(device, "thermostat")
        d["target_c"], d["mode"] = temperature, mode
        return {"device": key, "target_c": temperature, "mode": mode}

    def set_lock(self, device: str, locked: bool = True) -> dict[str, Any]:
        """Locks or unlocks a door lock.

        Args:
            device: The lock's name.
            locked: True to lock, False to unlock.
        """
        key, d = self._device(device, "lock")
        d["locked"] = locked
        return {"device": key, "locked": locked}

    def create_scene(self, name: str, actions: list[SceneAction]) -> dict[str, Any]:
        """Saves a named scene that sets several devices at once.

        Args:
            name: The scene's name.
            actions: What the scene does to each device.
        """
        if not actions:
            raise ToolError("a scene needs at least one action")
        steps = []
        for a in actions:
            key, _ = self._device(a["device"], "light", "speaker")
            if "brightness" in a and self.s["devices"][key]["type"] != "light":
                raise ToolError(f"{key} has no brightness")
            steps.append({"device": key, **{k: v for k, v in a.items() if k != "device"}})
        self.s["scenes"][name.strip()] = sorted(steps, key=lambda a: a["device"])  # devices are set together
        return {"scene": name.strip(), "actions": len(steps)}


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: four rooms with a light each, a lamp, two thermostats, two locks and a speaker."""
    rooms = rng.sample(ENTITIES[split]["rooms"], 4)
    devices: dict[str, Any] = {}
    for room in rooms:
        devices[f"{room} light"] = {"type": "light", "room": room, "on": rng.random() < 0.5,
                                    "brightness": rng.choice([40, 60, 80, 100]), "color": "warm white"}
    devices[f"{rooms[0]} lamp"] = {"type": "light", "room": rooms[0], "on": False, "brightness": 50,
                                   "color": "warm white"}
    for room in rooms[1:3]:
        devices[f"{room} thermostat"] = {"type": "thermostat", "room": room, "target_c": 20.0, "mode": "auto"}
    for door in ("front door", "back door"):
        devices[f"{door} lock"] = {"type": "lock", "room": "entrance", "locked": rng.random() < 0.5}
    devices[f"{rooms[3]} speaker"] = {"type": "speaker", "room": rooms[3], "on": False}
    return {"devices": devices, "scenes": {}}


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------


def _of_type(s: dict[str, Any], *kinds: str) -> list[str]:
    return [k for k, d in s["devices"].items() if d["type"] in kinds]


def _power(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    device = rng.choice(_of_type(s, "light", "speaker"))
    on = rng.random() < 0.5
    return Sample({"device": device, "state": "on" if on else "off"},
                  [("set_power", {"device": [device], "on": [on]})])


def _brightness(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    device = rng.choice(_of_type(s, "light"))
    level = rng.choice([10, 20, 25, 30, 40, 50, 60, 75, 90])
    return Sample({"device": device, "level": f"{level}%"}, [("set_brightness", {"device": [device], "level": [level]})])


def _color(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    device = rng.choice(_of_type(s, "light"))
    color = rng.choice(list(Color.__args__))
    return Sample({"device": device, "color": color}, [("set_light_color", {"device": [device], "color": [color]})])


def _thermostat(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    device = rng.choice(_of_type(s, "thermostat"))
    temp = float(rng.randrange(17, 26))
    mode_text, mode = maybe(rng, 0.4, {"heat": [" in heat mode", " on heating"], "cool": [" in cooling mode"]})
    return Sample({"device": device, "temperature": str(int(temp)), "mode": mode_text},
                  [("set_thermostat", opt({"device": [device], "temperature": [temp]}, "mode", mode))])


def _lock(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    device = rng.choice(_of_type(s, "lock"))
    locked = rng.random() < 0.6
    verb = "lock" if locked else "unlock"
    return Sample({"device": device, "verb": verb, "Verb": verb.capitalize(), "state": f"{verb}ed"},
                  [("set_lock", {"device": [device], "locked": [locked]})])


def _room_light(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    rooms = [d["room"] for d in s["devices"].values() if d["type"] == "light"]
    room = pick(rng, [r for r in rooms if rooms.count(r) == 1], "every room has several lights")
    device = next(k for k, d in s["devices"].items() if d["type"] == "light" and d["room"] == room)
    on = rng.random() < 0.6
    return Sample({"room": room, "state": "on" if on else "off"},
                  [("list_devices", {"room": [room], "device_type": ["light", ""]}),
                   ("set_power", {"device": [device], "on": [on]})])


def _scene(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    lights = _of_type(s, "light")
    a, b = rng.sample(lights, 2)
    level = rng.choice([20, 30, 50])
    name = rng.choice(ENTITIES[split]["scenes"])
    acts = [{"device": [a], "on": [False]}, {"device": [b], "on": [True], "brightness": [level]}]
    return Sample({"name": name, "off": a, "dim": b, "level": f"{level}%"},
                  [("create_scene", {"name": [name], "actions": [acts, acts[::-1]]})])


INTENTS = [
    Intent("smart_home.power", (
        "Turn {state} the {device}.",
        "Switch the {device} {state}.",
        "Please turn the {device} {state}.",
        "Can you switch {state} the {device}?",
        "I'd like the {device} turned {state}.",
        "Flip the {device} {state}.",
    ), _power),
    Intent("smart_home.brightness", (
        "Set the {device} to {level} brightness.",
        "Dim the {device} to {level}.",
        "Change the brightness of the {device} to {level}.",
        "Make the {device} {level} bright.",
        "Adjust the {device} to {level} brightness, please.",
        "Can you put the {device} at {level}?",
    ), _brightness, missing={"level": (
        "Dim the {device}.",
        "Change the brightness of the {device}.",
        "Adjust how bright the {device} is.",
        "Can you make the {device} a bit dimmer?",
        "Set a new brightness on the {device}.",
        "The {device} is too bright; change it.",
    )}),
    Intent("smart_home.color", (
        "Make the {device} {color}.",
        "Change the {device} color to {color}.",
        "Set the {device} to {color} light.",
        "Switch the {device} to {color}, please.",
        "Can the {device} glow {color}?",
        "Turn the {device} {color}.",
    ), _color),
    Intent("smart_home.thermostat", (
        "Set the {device} to {temperature} degrees{mode}.",
        "Change the {device} to {temperature} degrees Celsius{mode}.",
        "Make it {temperature} degrees on the {device}{mode}.",
        "Adjust the {device} to {temperature} degrees{mode}, please.",
        "I want the {device} at {temperature} degrees{mode}.",
        "Can you put the {device} on {temperature} degrees{mode}?",
    ), _thermostat, missing={"temperature": (
        "Adjust the {device}{mode}.",
        "Change the temperature on the {device}{mode}.",
        "Set the {device} to a new temperature{mode}.",
        "Can you change the {device} setting{mode}?",
        "I want a different temperature on the {device}{mode}.",
        "Update the {device}{mode}, please.",
    )}),
    Intent("smart_home.lock", (
        "{Verb} the {device}.",
        "Make sure the {device} is {state}.",
        "Please {verb} the {device}.",
        "Can you {verb} the {device}?",
        "I want the {device} {state}.",
        "Set the {device} to {state}.",
    ), _lock),
    Intent("smart_home.room_light", (
        "Turn {state} the light in the {room}.",
        "Switch the {room} lights {state}.",
        "Can you turn {state} the light in the {room}?",
        "Please switch {state} whatever light is in the {room}.",
        "I want the light in the {room} {state}.",
        "Find the light in the {room} and turn it {state}.",
    ), _room_light),
    Intent("smart_home.scene", (
        "Create a scene called '{name}' that turns off the {off} and sets the {dim} to {level} brightness.",
        "Save a '{name}' scene: {off} off, {dim} on at {level}.",
        "Make a new scene named '{name}' where the {off} is off and the {dim} is at {level}.",
        "Set up the scene '{name}': switch off the {off} and put the {dim} on {level}.",
        "I want a '{name}' scene that turns the {off} off and the {dim} on at {level} brightness.",
        "Add a scene '{name}' with the {off} off and the {dim} at {level}.",
    ), _scene),
]

OUT_OF_SCOPE = (
    "How much electricity did my house use last month?",
    "Show me the camera feed from the front door.",
    "Start the robot vacuum in the kitchen.",
    "Order new light bulbs for the hallway.",
    "Water the garden at 6 am every day.",
    "Is my smoke detector battery low?",
)
