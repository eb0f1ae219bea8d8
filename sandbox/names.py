"""Output names: what a file coming out of a sandbox may be called, and how to show any name.

:func:`sanitize_name` accepts a relative POSIX path only if it is safe on every system the user
may open the folder on (Linux, macOS, Windows) and in every tool that may handle it later (a
shell glob, a URL, an HTML listing): see :mod:`promptkiln.sandbox.collect` for the policy.
:func:`printable` makes any string from a sandbox or a model safe to print on a terminal.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "MAX_COMPONENT_BYTES",
    "MAX_DEPTH",
    "MAX_NAME_BYTES",
    "UnsafeName",
    "printable",
    "sanitize_name",
]

MAX_DEPTH = 8  #: path components, the file included
MAX_COMPONENT_BYTES = 255  #: UTF-8 bytes per component (NAME_MAX; also ≤ 255 UTF-16 units)
MAX_NAME_BYTES = 1024  #: UTF-8 bytes of the whole relative name

_PUNCTUATION = frozenset(" ._-+,()@")
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{d}" for p in ("COM", "LPT") for d in "0123456789¹²³"]
)


class UnsafeName(ValueError):
    """A name that may not be delivered; ``reason`` says why."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{printable(raw)}: {reason}")
        self.raw = raw
        self.reason = reason


def printable(s: str, limit: int = 200) -> str:
    """``s`` safe to print on a terminal: control, format (bidi), odd whitespace, private and
    unassigned characters escaped (``\\x1b``, ``\\u202e``), backslashes doubled, and cut to at
    most ``limit`` characters with ``…``. Undecodable bytes (surrogate escapes) show as ``\\xNN``."""
    pieces: list[str] = []
    length = 0
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            piece = "\\\\"
        elif 0xDC80 <= o <= 0xDCFF:
            piece = f"\\x{o - 0xDC00:02x}"
        elif o < 0x20 or 0x7F <= o < 0xA0:
            piece = f"\\x{o:02x}"
        elif _invisible(ch):
            piece = f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}"
        else:
            piece = ch
        pieces.append(piece)
        length += len(piece)
        if length > limit:
            break
    if length <= limit:
        return "".join(pieces)
    while pieces and length > limit - 1:
        length -= len(pieces.pop())
    return "".join(pieces) + "…"


def _invisible(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or (cat == "Zs" and ch != " ")


def sanitize_name(raw: str) -> str:
    """The safe, NFC-normalised form of a relative output name, or :class:`UnsafeName`."""
    if not raw:
        raise UnsafeName(raw, "empty name")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in raw):
        raise UnsafeName(raw, "the name is not valid UTF-8")
    if raw.startswith("/"):
        raise UnsafeName(raw, "absolute path")
    if "\\" in raw:
        raise UnsafeName(raw, "backslash in the name (a path separator on Windows)")
    if len(raw) >= 2 and raw[1] == ":" and raw[0].isascii() and raw[0].isalpha():
        raise UnsafeName(raw, "drive-letter path")
    name = unicodedata.normalize("NFC", raw)
    parts = name.split("/")
    if ".." in parts:
        raise UnsafeName(raw, "parent-directory reference ('..')")
    if len(parts) > MAX_DEPTH:
        raise UnsafeName(raw, f"nested too deeply ({len(parts)} levels; the limit is {MAX_DEPTH})")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise UnsafeName(raw, f"path too long ({size} bytes; the limit is {MAX_NAME_BYTES})")
    for part in parts:
        reason = _component_problem(part)
        if reason:
            raise UnsafeName(raw, reason)
    return name


def _component_problem(part: str) -> str | None:
    if not part:
        return "empty path component ('//' or a trailing '/')"
    if part == ".":
        return "'.' path component"
    for ch in part:
        if ch in _PUNCTUATION or unicodedata.category(ch)[0] in "LMN":
            continue
        if _invisible(ch):
            kind = "control" if unicodedata.category(ch) == "Cc" else "invisible or formatting"
            return f"{kind} character {printable(ch)} in the name"
        return f"character {ch!r} is not allowed in file names"
    size = len(part.encode("utf-8"))
    if size > MAX_COMPONENT_BYTES:
        return f"name component too long ({size} bytes; the limit is {MAX_COMPONENT_BYTES})"
    if part[0] == ".":
        return "hidden name (starts with '.')"
    if part[0] == "-":
        return "starts with '-' (would be read as a command-line option)"
    if part[0] == " ":
        return "starts with a space"
    if part[-1] in ". ":
        return "ends with a dot or a space (Windows strips them)"
    if part.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        return "a reserved device name on Windows"
    compat = unicodedata.normalize("NFKC", part)
    if compat != part and _component_problem(compat) is not None:
        return "contains look-alike characters (its compatibility form is not a safe name)"
    return None


def extension_of(name: str) -> str:
    leaf = name.rsplit("/", 1)[-1]
    dot = leaf.rfind(".")
    return leaf[dot + 1 :].lower() if dot > 0 else ""


def suffixed(leaf: str, n: int) -> str:
    """``chart.png`` → ``chart (n).png``, kept within :data:`MAX_COMPONENT_BYTES`."""
    dot = leaf.rfind(".")
    stem, ext = (leaf[:dot], leaf[dot:]) if dot > 0 else (leaf, "")
    tail = f" ({n}){ext}"
    while stem and len((stem + tail).encode("utf-8")) > MAX_COMPONENT_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" ") + tail
