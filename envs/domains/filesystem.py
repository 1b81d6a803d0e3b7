"""A virtual file system: list, read, write, move, delete and search files under a home directory."""

from __future__ import annotations

import fnmatch
import posixpath
import random
from typing import Annotated, Any, Literal

from envs.api import Schema, SimulatedAPI, ToolError, readonly
from envs.intents import Intent, NoSample, Sample, pick, unique

HOME = "/home/user"
ENTITIES = {
    "train": {
        "dirs": ["docs", "projects", "photos", "music", "downloads"],
        "files": ["notes.txt", "todo.md", "budget.csv", "report.md", "ideas.txt", "recipes.txt", "draft.md",
                  "contacts.csv", "log.txt", "summary.md", "plan.txt", "data.json"],
        "lines": ["buy milk and eggs", "call the plumber on Monday", "finish the quarterly report",
                  "meeting moved to 3pm", "remember to back up the laptop", "book dentist appointment",
                  "total expenses: 420 dollars", "ideas for the garden"],
    },
    "test": {
        "dirs": ["archive", "invoices", "drafts", "scans"],
        "files": ["agenda.txt", "inventory.csv", "minutes.md", "packing_list.txt", "readme.md", "schedule.json",
                  "wishlist.txt", "checklist.txt", "timeline.md", "expenses.csv", "journal.txt"],
        "lines": ["renew the car insurance", "pick up the dry cleaning", "review the new contract",
                  "water the plants twice a week", "send invoices by Friday"],
    },
}


class FilesystemAPI(SimulatedAPI):
    """Files and directories under /home/user (relative paths start there)."""

    domain = "filesystem"

    @classmethod
    def default_state(cls, rng: random.Random) -> dict[str, Any]:
        return build_state(rng, "train")

    def _path(self, path: str) -> str:
        path = path.strip()
        if path == "~" or path.startswith("~/"):
            path = HOME + path[1:]
        full = posixpath.normpath(posixpath.join(HOME, path))
        return "/" + full.lstrip("/")  # normpath keeps a leading "//"; one slash is the root

    def _file(self, path: str) -> str:
        full = self._path(path)
        if full not in self.s["files"]:
            raise ToolError(f"no such file: {full}")
        return full

    def _dir(self, path: str) -> str:
        full = self._path(path)
        if full not in self.s["dirs"]:
            raise ToolError(f"no such directory: {full}")
        return full

    @readonly
    def list_directory(self, path: str = ".", show_hidden: bool = False) -> dict[str, Any]:
        """Lists the files and folders in a directory.

        Args:
            path: The directory; relative paths start at /home/user.
            show_hidden: Include names starting with a dot.
        """
        full = self._dir(path)
        entries = [{"name": posixpath.basename(d), "type": "dir"} for d in self.s["dirs"]
                   if d != full and posixpath.dirname(d) == full]
        entries += [{"name": posixpath.basename(f), "type": "file", "size": len(c)} for f, c in self.s["files"].items()
                    if posixpath.dirname(f) == full]
        if not show_hidden:
            entries = [e for e in entries if not e["name"].startswith(".")]
        return {"path": full, "entries": sorted(entries, key=lambda e: e["name"])}

    @readonly
    def read_file(self, path: str, max_lines: Annotated[int, Schema(minimum=1)] | None = None) -> dict[str, Any]:
        """Reads a text file.

        Args:
            path: The file; relative paths start at /home/user.
            max_lines: Only return this many lines from the start.
        """
        full = self._file(path)
        content = self.s["files"][full]
        if max_lines is not None:
            content = "\n".join(content.split("\n")[:max_lines])
        return {"path": full, "content": content}

    def write_file(self, path: str, content: str, mode: Literal["overwrite", "append"] = "overwrite") -> dict[str, Any]:
        """Writes text to a file, creating it if needed.

        Args:
            path: The file; its folder must exist.
            content: The text to write.
            mode: Replace the file's content, or add to its end (on a new line).
        """
        full = self._path(path)
        if full in self.s["dirs"]:
            raise ToolError(f"{full} is a directory")
        if posixpath.dirname(full) not in self.s["dirs"]:
            raise ToolError(f"no such directory: {posixpath.dirname(full)}")
        old = self.s["files"].get(full)
        self.s["files"][full] = content if mode == "overwrite" or not old else old + "\n" + content
        return {"path": full, "size": len(self.s["files"][full]), "created": old is None}

    def move_file(self, source: str, destination: str) -> dict[str, Any]:
        """Moves or renames a file. A destination that is a folder keeps the file's name.

        Args:
            source: The file to move.
            destination: The new path, or an existing folder to move it into.
        """
        src = self._file(source)
        dst = self._path(destination)
        if dst in self.s["dirs"]:
            dst = posixpath.join(dst, posixpath.basename(src))
        if posixpath.dirname(dst) not in self.s["dirs"]:
            raise ToolError(f"no such directory: {posixpath.dirname(dst)}")
        if dst in self.s["files"] and dst != src:
            raise ToolError(f"{dst} already exists")
        self.s["files"][dst] = self.s["files"].pop(src)
        return {"moved": src, "to": dst}

    def delete_file(self, path: str) -> dict[str, Any]:
        """Deletes a file.

        Args:
            path: The file to delete.
        """
        full = self._file(path)
        del self.s["files"][full]
        return {"deleted": full}

    def create_directory(self, path: str) -> dict[str, Any]:
        """Creates a folder (its parent must exist).

        Args:
            path: The new folder.
        """
        full = self._path(path)
        if full in self.s["dirs"] or full in self.s["files"]:
            raise ToolError(f"{full} already exists")
        if posixpath.dirname(full) not in self.s["dirs"]:
            raise ToolError(f"no such directory: {posixpath.dirname(full)}")
        self.s["dirs"].append(full)
        self.s["dirs"].sort()
        return {"created": full}

    @readonly
    def search_files(self, name_pattern: str, directory: str = ".") -> list[str]:
        """Finds files by name anywhere below a folder.

        Args:
            name_pattern: A file name or a wildcard pattern such as "*.csv".
            directory: Where to start searching; relative paths start at /home/user.
        """
        root = self._dir(directory)
        prefix = root.rstrip("/") + "/"
        return sorted(f for f in self.s["files"]
                      if f.startswith(prefix) and fnmatch.fnmatch(posixpath.basename(f), name_pattern))


def build_state(rng: random.Random, split: str) -> dict[str, Any]:
    """A world: three folders under the home directory and six files spread over them."""
    ent = ENTITIES[split]
    subdirs = rng.sample(ent["dirs"], 3)
    dirs = ["/", "/home", HOME] + [f"{HOME}/{d}" for d in subdirs]
    files = {}
    for name in rng.sample(ent["files"], 6):
        folder = rng.choice([HOME, HOME, *dirs[3:]])
        files[f"{folder}/{name}"] = "\n".join(rng.sample(ent["lines"], rng.randint(1, 3)))
    files[f"{HOME}/.profile"] = "export EDITOR=nano"
    return {"dirs": sorted(dirs), "files": files}


# ---------------------------------------------------------------------------------------------------
# What users ask
# ---------------------------------------------------------------------------------------------------


def path_alts(full: str) -> tuple[str, list[str]]:
    """How a user names a path under home ("docs/report.md"), and the equivalent spellings."""
    rel = posixpath.relpath(full, HOME)
    return rel, unique(rel, full, "./" + rel, "~/" + rel)


def dir_alts(full: str) -> tuple[str, list[str]]:
    said, alts = path_alts(full)
    return said, unique(*alts, *(a + "/" for a in alts))


def _visible_files(s: dict[str, Any]) -> list[str]:
    return [f for f in s["files"] if not posixpath.basename(f).startswith(".")]


def _subdirs(s: dict[str, Any]) -> list[str]:
    return [d for d in s["dirs"] if d.startswith(HOME + "/")]


def _read(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = path_alts(rng.choice(_visible_files(s)))
    return Sample({"path": said}, [("read_file", {"path": alts})])


def _new_file(s: dict[str, Any], rng: random.Random, split: str) -> str:
    taken = {posixpath.basename(f) for f in s["files"]}
    free = [n for n in ENTITIES[split]["files"] if n not in taken]
    if not free:
        raise NoSample("no free file name")
    return f"{rng.choice([HOME, *_subdirs(s)])}/{rng.choice(free)}"


def _write(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = path_alts(_new_file(s, rng, split))
    content = rng.choice(ENTITIES[split]["lines"])
    return Sample({"path": said, "content": f"'{content}'"}, [("write_file", {"path": alts, "content": [content]})])


def _append(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = path_alts(rng.choice(_visible_files(s)))
    content = rng.choice(ENTITIES[split]["lines"])
    return Sample({"path": said, "content": content},
                  [("write_file", {"path": alts, "content": [content], "mode": ["append"]})])


def _move(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    src = rng.choice(_visible_files(s))
    folder = pick(rng, [d for d in _subdirs(s) if d != posixpath.dirname(src)], "nowhere to move")
    src_said, src_alts = path_alts(src)
    dir_said, alts = dir_alts(folder)
    inside = posixpath.join(folder, posixpath.basename(src))
    if inside in s["files"]:
        raise NoSample("target exists")
    return Sample({"source": src_said, "destination": dir_said},
                  [("move_file", {"source": src_alts, "destination": alts + path_alts(inside)[1]})])


def _delete(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = path_alts(rng.choice(_visible_files(s)))
    return Sample({"path": said}, [("delete_file", {"path": alts})])


def _list(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    said, alts = dir_alts(rng.choice(_subdirs(s)))
    return Sample({"path": said}, [("list_directory", {"path": alts})])


def _find_and_read(rng: random.Random, s: dict[str, Any], split: str) -> Sample:
    full = pick(rng, [f for f in _visible_files(s) if posixpath.dirname(f) != HOME], "no file in a subfolder")
    name = posixpath.basename(full)
    _, alts = path_alts(full)
    return Sample({"name": name}, [("search_files", {"name_pattern": [name]}),
                                   ("read_file", {"path": unique(full, *alts)})])


INTENTS = [
    Intent("filesystem.read", (
        "Show me the contents of {path}.",
        "What's in the file {path}?",
        "Open {path} and read it to me.",
        "Read {path}.",
        "Can you print the file {path}?",
        "Display what {path} says.",
        "I need to see the text of {path}.",
        "Let me look at {path}, please.",
    ), _read),
    Intent("filesystem.write", (
        "Create a file {path} containing {content}.",
        "Write {content} to a new file called {path}.",
        "Save {content} in {path}.",
        "Make a new file {path} with the text {content}.",
        "Please create {path} and put {content} in it.",
        "Store the text {content} in a file named {path}.",
        "New file {path}, content: {content}.",
        "Put {content} into a fresh file at {path}.",
    ), _write, missing={"content": (
        "Create a file called {path}.",
        "Write a new file named {path}.",
        "Save a file at {path} for me.",
        "Make a new file {path}.",
        "Please create {path}.",
        "Set up a file named {path}.",
        "New file {path}, please.",
        "I need a fresh file at {path}.",
    )}),
    Intent("filesystem.append", (
        "Add the line '{content}' to {path}.",
        "Append '{content}' to the end of {path}.",
        "Add '{content}' at the bottom of {path}.",
        "Put '{content}' on a new line at the end of {path}.",
        "Please append the text '{content}' to {path}.",
        "Tack '{content}' onto the end of {path}.",
        "Extend {path} with the line '{content}'.",
        "At the end of {path}, add '{content}'.",
    ), _append),
    Intent("filesystem.move", (
        "Move {source} into the {destination} folder.",
        "Put {source} in {destination}.",
        "Please move the file {source} to {destination}.",
        "Relocate {source} to the {destination} directory.",
        "Can you shift {source} into {destination}?",
        "Transfer {source} over to the {destination} folder.",
        "File {source} under {destination}.",
        "I want {source} moved to {destination}.",
    ), _move, missing={"destination": (
        "Move the file {source}.",
        "Put {source} somewhere else.",
        "Please move {source} for me.",
        "Relocate {source}.",
        "Can you shift {source} to another folder?",
        "Transfer {source} to a different directory.",
        "I want {source} moved.",
        "Move {source} out of its folder.",
    )}),
    Intent("filesystem.delete", (
        "Delete {path}.",
        "Remove the file {path}.",
        "Please get rid of {path}.",
        "Erase {path} from the disk.",
        "I don't need {path} anymore; delete it.",
        "Trash the file {path}.",
        "Wipe out {path}, please.",
        "Can you delete the file {path}?",
    ), _delete),
    Intent("filesystem.list", (
        "What's in the {path} folder?",
        "List the files in {path}.",
        "Show me the contents of the {path} directory.",
        "Which files are inside {path}?",
        "Can you list everything in {path}?",
        "Give me a listing of {path}.",
        "What does the {path} directory contain?",
        "Enumerate the files under {path}.",
    ), _list),
    Intent("filesystem.find_and_read", (
        "Find the file named {name} and show me what's in it.",
        "Somewhere in my folders there's {name}; read it to me.",
        "Locate {name} and display its contents.",
        "Search for {name} and open it.",
        "I can't remember where {name} is. Find it and read it.",
        "Track down {name} and print it.",
        "Where is {name}? Show me its contents.",
        "Look for a file called {name} and tell me what it says.",
    ), _find_and_read),
]

OUT_OF_SCOPE = (
    "Compress my documents folder into a zip file.",
    "Change the permissions of my files so others can read them.",
    "How much free disk space do I have?",
    "Restore the file I deleted yesterday.",
    "Share my documents folder with my colleague.",
    "Convert report.md to a PDF.",
    "Show me the version history of my notes.",
    "Sync my files to the cloud.",
)
