"""HL7 v2 ADT feed of the patient index: a pure core (frame in, ACK out) and an MLLP listener.

Events applied are the IHE patient identity feed's: A01 (admit), A04 (register), A05 (pre-admit),
A08 (update), A28 (add person), A31 (update person) add or update the PID-3 identity; A29 (delete
person information) marks it inactive (never deleted: photos may be filed under it); A40 merges
MRG-1 (prior) into PID-3 (survivor); A47 changes an identifier (MRG-1, the incorrect one, becomes
PID-3, which must not belong to another patient). The stay (PV1) is kept for the phones' list of
today's patients: A01/A04/A05/A08 and A02 (transfer) set its department (PV1-10 hospital service,
else PV1-3's point of care) and admission date (PV1-44); A03 (discharge) and A11 (cancel admit) end
it. A02, A03 and A11 change the stay only, never the identity. The index identifier is the PID-3 repetition
typed PI (patient internal identifier), else the first; its CX-4 is its assigning authority, and
the other repetitions are kept as the patient's other identifiers.

Every frame gets an ACK, by HL7 v2.5 table 0008 and chapter 2's acknowledgment rules: AA applied;
AE an error in the message the sender must correct (a bad date, sex, identifier, a character the
declared set cannot hold, a frame without a readable MSH), with an ERR segment (ERR-2 where, ERR-3
table 0357 code, ERR-4 severity); AR rejected: a message type, event, processing id or version this
receiver does not support (chapter 2 answers those AR), or a reason unrelated to the content (an
internal error: the sender decides whether to resend). The character set is MSH-18's (table 0211), else the configured
fallback; the ACK is written in the same set and echoes MSH-18. Escapes are decoded per component
after the split, so ``Smith\\S\\Jones^Ann`` is family ``Smith^Jones``. Nothing is logged about the
patient; the audit trail records every index change.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from datetime import date
from typing import Awaitable, Callable

from .patients import ID_RE, SEXES, IdentityError, Patient
from ..clock import utc_now

log = logging.getLogger("clinphoto.interop.hl7")

UPDATES = frozenset({"A01", "A04", "A05", "A08", "A28", "A31"})
DEACTIVATIONS = frozenset({"A29"})
MERGES = frozenset({"A40"})
CHANGES = frozenset({"A47"})
VISIT_ONLY = frozenset({"A02", "A03", "A11"})  # transfer, discharge, cancel admit: the stay, not the identity
VISIT_ENDS = frozenset({"A03", "A11"})
EVENTS = UPDATES | DEACTIVATIONS | MERGES | CHANGES | VISIT_ONLY
PROCESSING_IDS = frozenset({"P", "D", "T"})
VERSIONS = frozenset({"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2", "2.9"})
# HL7 table 0211 (MSH-18) -> Python codec
CHARSETS = {"ASCII": "ascii", "UNICODE UTF-8": "utf-8", "8859/15": "iso-8859-15",
            **{f"8859/{n}": f"iso-8859-{n}" for n in range(1, 10)}}
_SB, _EB, _CR = b"\x0b", b"\x1c", b"\x0d"
FRAME_LIMIT = 4 * 1024 * 1024  # bytes of one MLLP frame; an ADT message is a few kilobytes
_DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(\d{2})?(\d{2})?(?:\.\d{1,4})?)?([+-]\d{4})?$")
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{0,194}$")


class Hl7Error(ValueError):
    """A message this index does not apply: its ACK code, table 0357 code and location (``PID^1^7``)."""

    def __init__(self, ack_code: str, error_code: int, text: str, location: str = "") -> None:
        super().__init__(text)
        self.ack_code, self.error_code, self.location = ack_code, error_code, location


def _reject(code: int, text: str, location: str = "") -> Hl7Error:
    return Hl7Error("AR", code, text, location)


def _error(code: int, text: str, location: str = "") -> Hl7Error:
    return Hl7Error("AE", code, text, location)


AdtError = Hl7Error  # the name callers used before ACK codes followed table 0008
TABLE_0357 = {100: "Segment sequence error", 101: "Required field missing", 102: "Data type error",
              103: "Table value not found", 200: "Unsupported message type", 201: "Unsupported event code",
              202: "Unsupported processing id", 203: "Unsupported version id", 204: "Unknown key identifier",
              205: "Duplicate key identifier", 206: "Application record locked", 207: "Application internal error"}


@dataclasses.dataclass(frozen=True)
class AdtEvent:
    trigger: str  # one of EVENTS
    control_id: str
    patient: Patient | None = None
    prior_id: str | None = None  # A40: the identity merged away; A47: the identifier replaced
    visit: Visit | None = None  # the stay PV1 reports, when it names a department (or ends the stay)


@dataclasses.dataclass(frozen=True)
class Visit:
    department: str | None  # PV1-10, else PV1-3.1; None on a discharge that does not say
    admitted_on: str | None  # ISO date of PV1-44
    ended: bool = False


@dataclasses.dataclass(frozen=True)
class _Delimiters:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def unescape(self, text: str) -> str:
        """Decode \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ in one (sub)component, after it was split out."""
        e = self.escape
        if not e or e not in text:
            return text
        table = {"F": self.field, "S": self.component, "T": self.subcomponent, "R": self.repetition, "E": e}
        return re.sub(re.escape(e) + r"([FSTRE])" + re.escape(e), lambda m: table[m.group(1)], text)

    def escape_text(self, text: str) -> str:
        e = self.escape
        out = text.replace(e, f"{e}E{e}")
        for char, code in ((self.field, "F"), (self.component, "S"), (self.subcomponent, "T"),
                           (self.repetition, "R")):
            out = out.replace(char, f"{e}{code}{e}")
        return out


@dataclasses.dataclass(frozen=True)
class _Message:
    segments: list[list[str]]  # each segment's fields, [0] the segment id; MSH's [1] is MSH-2
    d: _Delimiters

    def segment(self, name: str) -> list[str] | None:
        return next((s for s in self.segments if s[0] == name), None)

    def field(self, segment: list[str] | None, n: int) -> str:
        """Raw (still escaped) field ``n`` of a segment; MSH numbering counts MSH-1, the separator."""
        if segment is None:
            return ""
        index = n - 1 if segment[0] == "MSH" else n
        return segment[index] if 0 <= index < len(segment) else ""

    def components(self, raw: str) -> list[str]:
        """The components of one repetition, each decoded (subcomponents kept whole)."""
        return [self.d.unescape(c) for c in raw.split(self.d.component)] if raw else []


def _parse(text: str) -> _Message:
    lines = [line for line in re.split(r"\r\n|\r|\n", text.strip("\r\n\x00 ")) if line]
    if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
        raise _error(100, "the frame does not start with an MSH segment", "MSH^1")
    fs, enc = lines[0][3], lines[0][4:8].split(lines[0][3])[0]
    if len(enc) < 2 or fs.isalnum():
        raise _error(100, "MSH-1 and MSH-2 do not define the delimiters", "MSH^1^2")
    d = _Delimiters(fs, enc[0], enc[1], enc[2] if len(enc) > 2 else "", enc[3] if len(enc) > 3 else "&")
    return _Message([line.split(fs) for line in lines], d)


def _header(message: _Message) -> tuple[str, str]:
    """(trigger, control id) once MSH is checked: message type, event, processing id, version."""
    msh = message.segment("MSH")
    control_id = message.d.unescape(message.field(msh, 10))
    if not control_id:
        raise _error(101, "MSH-10 message control id is missing", "MSH^1^10")
    kind = message.components(message.field(msh, 9))
    processing = message.components(message.field(msh, 11))
    version = message.components(message.field(msh, 12))
    if not kind or kind[0] != "ADT":
        raise _reject(200, "only ADT messages are accepted", "MSH^1^9^1^1")
    trigger = kind[1] if len(kind) > 1 else ""
    if trigger not in EVENTS:
        raise _reject(201, "unsupported event", "MSH^1^9^1^2")
    if not processing or processing[0] not in PROCESSING_IDS:
        raise _reject(202, "unsupported processing id", "MSH^1^11")
    if not version or version[0] not in VERSIONS:
        raise _reject(203, "unsupported version id", "MSH^1^12")
    _timestamp_field(message.d.unescape(message.field(msh, 7)), "MSH^1^7", "MSH-7 date/time of message")
    return trigger, control_id


@dataclasses.dataclass(frozen=True)
class _Cx:
    value: str
    authority: str  # CX-4 (HD): its namespace id, else its universal id; '' when absent
    type_code: str


def _identifiers(message: _Message, raw: str, location: str) -> tuple[_Cx | None, list[_Cx]]:
    """(the index identifier: the PI-typed repetition, else the first; the other repetitions)."""
    d = message.d
    found: list[tuple[int, _Cx]] = []
    for n, repetition in enumerate(raw.split(d.repetition) if raw else [], start=1):
        parts = repetition.split(d.component)
        value = d.unescape(parts[0])
        if not value:
            continue
        hd = [d.unescape(s) for s in parts[3].split(d.subcomponent)] if len(parts) > 3 else []
        authority = next((part for part in hd[:2] if part), "")
        type_code = d.unescape(parts[4]) if len(parts) > 4 else ""
        found.append((n, _Cx(value, authority, type_code)))
    typed = [f for f in found if f[1].type_code == "PI"]
    chosen = typed[0] if typed else (found[0] if found else None)
    if chosen is None:
        return None, []
    n, main = chosen
    if not ID_RE.match(main.value):
        raise _error(102, "identifier is not 3-32 letters, digits or hyphens", f"{location}^{n}^1")
    if main.authority and not _TEXT.match(main.authority):
        raise _error(102, "assigning authority is not printable text", f"{location}^{n}^4")
    # only the other identifiers a phone could carry can be claimed, so only those are kept (e.g. not a
    # social security number written with spaces)
    others = [c for m, c in found if m != n and ID_RE.match(c.value) and _TEXT.match(c.authority)]
    return main, others


def _timestamp_field(raw: str, location: str, what: str) -> None:
    """A required DTM field (MSH-7): present and a real date-time."""
    if not raw:
        raise _error(101, f"{what} is missing", location)
    if _DTM.match(raw) is None:
        raise _error(102, f"{what} is not an HL7 date/time", location)
    _birth_date(raw, location, future_ok=True)


def _birth_date(raw: str, location: str, future_ok: bool = False) -> str | None:
    """PID-7 (DTM) as an ISO date of the precision given (YYYY, YYYY-MM, YYYY-MM-DD); None when empty."""
    if not raw:
        return None
    match = _DTM.match(raw)
    try:
        if match is None:
            raise ValueError
        year, month, day, hour, minute, second, offset = match.groups()
        date(int(year), int(month or 1), int(day or 1))
        if int(hour or 0) > 23 or int(minute or 0) > 59 or int(second or 0) > 59:
            raise ValueError
        if offset and (int(offset[1:3]) > 14 or int(offset[3:]) > 59):
            raise ValueError
        if (hour and not day) or (not month and day):
            raise ValueError
    except ValueError:
        raise _error(102, "not a valid HL7 date (YYYY[MM[DD[HH[MM[SS]]]]][+/-ZZZZ])", location) from None
    if not future_ok and date(int(year), int(month or 1), int(day or 1)) > utc_now().date():
        raise _error(102, "birth date is in the future", location)
    return "-".join(p for p in (year, month, day) if p)


def _name(message: _Message, raw: str, location: str) -> tuple[str | None, str | None]:
    """(family, given) of PID-5's first repetition: FN-1 surname, XPN-2 given; escapes decoded last."""
    d = message.d
    first = raw.split(d.repetition)[0] if raw else ""
    parts = first.split(d.component) if first else []
    family = d.unescape(parts[0].split(d.subcomponent)[0]) if parts else ""
    given = d.unescape(parts[1].split(d.subcomponent)[0]) if len(parts) > 1 else ""
    for value, n in ((family, 1), (given, 2)):
        if not _TEXT.match(value):
            raise _error(102, "patient name holds control characters or is too long", f"{location}^1^{n}")
    return family.strip() or None, given.strip() or None


def parse_adt(text: str) -> AdtEvent:
    """The index event a decoded ADT message carries, or Hl7Error (with the ACK code it deserves)."""
    message = _parse(text)
    trigger, control_id = _header(message)
    pid = message.segment("PID")
    if pid is None:
        raise _error(100, "ADT message without PID segment", "PID")
    main, others = _identifiers(message, message.field(pid, 3), "PID^1^3")
    if main is None:
        raise _error(101, "PID-3 carries no identifier", "PID^1^3")
    family, given = _name(message, message.field(pid, 5), "PID^1^5")
    birth = _birth_date(message.d.unescape(message.field(pid, 7)), "PID^1^7")
    sex = message.d.unescape(message.field(pid, 8)).split(message.d.component)[0]
    if sex and sex not in SEXES:
        raise _error(103, "administrative sex is not in HL7 table 0001 (F, M, O, U, A, N)", "PID^1^8")
    try:
        patient = Patient(id=main.value, family=family, given=given, birth_date=birth, sex=sex or None,
                          authority=main.authority or None, active=trigger not in DEACTIVATIONS,
                          other_ids=tuple(sorted({(o.value, o.authority) for o in others})))
    except IdentityError as exc:
        raise _error(102, f"PID: {exc}", "PID^1") from None
    if trigger in MERGES | CHANGES:
        mrg = message.segment("MRG")
        if mrg is None:
            raise _error(100, f"{trigger} without MRG segment", "MRG")
        prior, _ = _identifiers(message, message.field(mrg, 1), "MRG^1^1")
        if prior is None:
            raise _error(101, "MRG-1 carries no identifier", "MRG^1^1")
        if prior.value == patient.id:
            raise _error(205, "MRG-1 and PID-3 are the same identifier", "MRG^1^1")
        return AdtEvent(trigger, control_id, patient, prior.value)
    return AdtEvent(trigger, control_id, patient, visit=_visit(message, trigger))


def _visit(message: _Message, trigger: str) -> Visit | None:
    pv1 = message.segment("PV1")
    if pv1 is None:
        if trigger in VISIT_ONLY:
            raise _error(100, f"{trigger} without PV1 segment", "PV1")
        return None
    service = (message.components(message.field(pv1, 10)) or [""])[0].strip()
    point_of_care = (message.components(message.field(pv1, 3)) or [""])[0].strip()
    department = service or point_of_care or None
    if department is not None and (not _TEXT.match(department) or len(department) > 40):
        raise _error(102, "the department (PV1-10 or PV1-3) is not printable text of 40 characters at most", "PV1^1^10")
    admitted_raw = message.d.unescape(message.field(pv1, 44)).split(message.d.component)[0]
    admitted = _birth_date(admitted_raw, "PV1^1^44", future_ok=True)
    if trigger in VISIT_ENDS:
        return Visit(department, admitted, ended=True)
    if department is None:
        if trigger in VISIT_ONLY:
            raise _error(101, "a transfer names no department (PV1-10 or PV1-3)", "PV1^1^10")
        return None
    return Visit(department, admitted)


def _timestamp() -> str:
    return utc_now().strftime("%Y%m%d%H%M%S+0000")


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9 .,;:()'/-]", " ", text)[:200]


def ack(message: _Message | None, code: str, error: Hl7Error | None = None, charset_field: str = "",
        control_id: str = "") -> str:
    """An HL7 v2.5 ACK (MSH, MSA, and ERR when ``error``), with our standard delimiters."""
    d = _Delimiters()
    esc = d.escape_text
    if message is not None:
        msh = message.segment("MSH")
        sender = [message.field(msh, n) for n in (3, 4, 5, 6)]
        app, fac, our_app, our_fac = (esc(message.d.unescape(v)) if message.d != d else v for v in sender)
        kind = message.components(message.field(msh, 9))
        trigger = kind[1] if len(kind) > 1 and re.match(r"^[A-Z0-9]{3}$", kind[1]) else ""
        control_id = control_id or message.d.unescape(message.field(msh, 10))
        processing = (message.components(message.field(msh, 11)) or ["P"])[0]
        processing = processing if processing in PROCESSING_IDS else "P"
    else:
        app = fac = our_fac = trigger = ""
        our_app, processing = "CLINPHOTO", "P"
    ack_id = f"ACK{utc_now().strftime('%Y%m%d%H%M%S%f')}"[:20]
    msh_out = ["MSH", d.component + d.repetition + d.escape + d.subcomponent, our_app or "CLINPHOTO", our_fac,
               app, fac, _timestamp(), "", f"ACK^{trigger}^ACK", ack_id, processing, "2.5"]
    if charset_field:
        msh_out += [""] * 5 + [esc(charset_field)]
    segments = ["|".join(msh_out), f"MSA|{code}|{esc(control_id or 'UNKNOWN')}"]
    if error is not None:
        location = "^".join(esc(p) for p in error.location.split("^")) if error.location else ""
        segments.append(f"ERR||{location}|{error.error_code}^{TABLE_0357[error.error_code]}^HL70357|E||||"
                        f"{_clean(str(error))}")
    return "\r".join(segments)


def _charset(raw: bytes) -> tuple[str, str]:
    """(MSH-18 as sent, '' when absent; its codec, '' when the set is unknown) from the raw frame."""
    first = raw.split(_CR, 1)[0]
    if len(first) < 4 or not first.startswith(b"MSH"):
        return "", ""
    fields = first.decode("latin-1").split(chr(first[3]))
    value = fields[17] if len(fields) > 17 else ""
    rep = fields[1][1:2] if len(fields) > 1 and len(fields[1]) > 1 else "~"
    value = value.split(rep)[0] if rep else value
    return value, CHARSETS.get(value.strip(), "") if value else ""


def _control_id(raw: bytes) -> str:
    first = raw.split(_CR, 1)[0].decode("latin-1")
    fields = first.split(first[3]) if first.startswith("MSH") and len(first) > 3 else []
    value = fields[9] if len(fields) > 9 else ""
    return value if re.match(r"^[\x20-\x7e]{1,20}$", value) and "\\" not in value else ""


Apply = Callable[[AdtEvent], Awaitable[None]]


async def handle_frame(raw: bytes, apply: Apply, fallback: str = "utf-8") -> bytes:
    """The ACK of one MLLP frame's payload, encoded in the message's character set. Never raises."""
    declared, codec = _charset(raw)
    out_codec = codec or fallback
    try:
        if declared and not codec:
            raise _error(103, "MSH-18 character set is not one of HL7 table 0211 that is supported", "MSH^1^18")
        try:
            text = raw.decode(codec or fallback)
        except (UnicodeDecodeError, LookupError):
            raise _error(102, f"the message is not valid {codec or fallback} text; declare MSH-18",
                         "MSH^1^18") from None
        message = _parse(text)
    except Hl7Error as exc:
        log.warning("HL7 frame refused: %s", exc)  # the reason only, never the message
        reply = ack(None, exc.ack_code, exc, declared if codec else "", _control_id(raw))
        return reply.encode(out_codec, "replace")
    try:
        event = parse_adt(text)
    except Hl7Error as exc:
        log.warning("HL7 message refused (%s): %s", exc.ack_code, exc)
        reply = ack(message, exc.ack_code, exc, declared)
        return reply.encode(out_codec, "replace")
    try:
        await apply(event)
    except IdentityError as exc:  # the index refuses it: the sender can correct the content
        reply = ack(message, "AE", _error(205, str(exc), "PID^1^3"), declared)
    except Exception:
        log.exception("HL7 %s could not be applied", event.trigger)
        reply = ack(message, "AR", _reject(207, "internal error; resend later"), declared)
    else:
        reply = ack(message, "AA", None, declared)
    return reply.encode(out_codec, "replace")


async def handle_message(text: str, apply: Apply, fallback: str = "utf-8") -> str:
    """``handle_frame`` for a message already decoded (tests, tools)."""
    return (await handle_frame(text.encode(fallback), apply, fallback)).decode(fallback)


async def serve_mllp(host: str, port: int, apply: Apply, encoding: str = "utf-8") -> asyncio.AbstractServer:
    """MLLP (``<VT> payload <FS><CR>``): every frame is answered, in order, on its connection."""
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    block = await reader.readuntil(_EB + _CR)
                except asyncio.LimitOverrunError:  # answered too: read to its end, then refuse it
                    await _skip_frame(reader)
                    reply = ack(None, "AE", _error(100, f"frame over {FRAME_LIMIT} bytes"))
                    writer.write(_SB + reply.encode("ascii") + _EB + _CR)
                    await writer.drain()
                    continue
                start = block.find(_SB)
                payload = block[start + 1:-2] if start >= 0 else block[:-2]
                writer.write(_SB + await handle_frame(payload, apply, encoding) + _EB + _CR)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(on_connect, host=host, port=port, limit=FRAME_LIMIT)


async def _skip_frame(reader: asyncio.StreamReader) -> None:
    """Discard the rest of a frame too large to hold, through its end block."""
    while True:
        try:
            await reader.readuntil(_EB + _CR)
            return
        except asyncio.LimitOverrunError as exc:  # drop what was scanned; the end block is not in it
            await reader.readexactly(exc.consumed)
