"""HL7 v2 ADT feed of the patient index: a pure parser, and an MLLP listener that applies and ACKs.

A01 (admit), A04 (register), A08 (update) add or update the PID-3 identity; A29 (delete person
information) marks it inactive (never deleted: photos may be filed under it); A40 merges MRG-1
(prior) into PID-3 (survivor). The index identifier is the PID-3 repetition typed PI (patient
internal identifier), else the first; its CX-4 is its assigning authority, and the other
repetitions are kept as the patient's other identifiers (a value two patients hold makes a claim of
it ambiguous). Other events are acknowledged and ignored (AA), messages
that cannot be used are rejected (AR) so the interface engine surfaces them. Nothing is logged
about the patient; the audit trail records every index change.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from typing import Any, Awaitable, Callable

import hl7
import hl7.mllp

from .patients import ID_RE, IdentityError, Patient

log = logging.getLogger("clinphoto.interop.hl7")

UPDATES = frozenset({"A01", "A04", "A08"})
DEACTIVATIONS = frozenset({"A29"})
MERGES = frozenset({"A40"})


class AdtError(ValueError):
    """The message is not an ADT message this index can apply."""


@dataclasses.dataclass(frozen=True)
class AdtEvent:
    trigger: str  # A01, A04, A08, A29, A40, or another event that is ignored
    control_id: str
    patient: Patient | None = None
    prior_id: str | None = None  # A40: the identity merged away


def _split(text: str, sep: str) -> list[str]:
    return text.split(sep) if text else []


@dataclasses.dataclass(frozen=True)
class _Cx:
    value: str
    authority: str  # CX-4 (HD): its namespace id, else its universal id; '' when absent


def _identifiers(field: str, rep: str, comp: str, sub: str) -> tuple[_Cx | None, list[_Cx]]:
    """(the index identifier: the PI-typed repetition, else the first; the other repetitions)."""
    repetitions = [r.split(comp) for r in _split(field, rep)]
    repetitions = [r for r in repetitions if r and r[0]]
    typed = [r for r in repetitions if len(r) > 4 and r[4] == "PI"]
    chosen = typed[0] if typed else (repetitions[0] if repetitions else None)

    def cx(r: list[str]) -> _Cx:
        hd = r[3].split(sub) if len(r) > 3 else []
        return _Cx(r[0], next((part for part in hd[:2] if part), ""))

    others = [cx(r) for r in repetitions if r is not chosen]
    return (cx(chosen) if chosen else None), others


def _date(value: str) -> str | None:
    digits = value[:8]
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return None


def parse_adt(text: str) -> AdtEvent:
    try:
        message = hl7.parse(text)
        msh = message.segment("MSH")
    except (KeyError, IndexError, ValueError) as exc:
        raise AdtError(f"not an HL7 v2 message ({type(exc).__name__})") from None
    encoding = str(msh[2])
    comp, rep = (encoding[0], encoding[1]) if len(encoding) >= 2 else ("^", "~")
    sub = encoding[3] if len(encoding) >= 4 else "&"
    kind = str(msh[9]).split(comp)
    control_id = str(msh[10]) if len(msh) > 10 else ""
    if kind[0] != "ADT" or len(kind) < 2:
        raise AdtError("not an ADT message")
    trigger = kind[1]
    if trigger not in UPDATES | DEACTIVATIONS | MERGES:
        return AdtEvent(trigger, control_id)
    try:
        pid = message.segment("PID")
    except KeyError:
        raise AdtError("ADT message without PID segment") from None

    def field(segment: Any, n: int) -> str:
        return message.unescape(str(segment[n])) if len(segment) > n else ""

    main, others = _identifiers(field(pid, 3), rep, comp, sub)
    if main is None:
        raise AdtError("PID-3 carries no identifier")
    name = (_split(field(pid, 5), rep) or [""])[0].split(comp)
    sex = field(pid, 8)[:1].upper() or None
    try:
        patient = Patient(id=main.value, family=name[0] or None, given=(name[1] if len(name) > 1 else "") or None,
                          birth_date=_date(field(pid, 7)), sex=sex if sex in {"M", "F", "O", "U"} else None,
                          authority=main.authority or None, active=trigger not in DEACTIVATIONS,
                          # only identifiers a phone could carry can be claimed, so only those can clash
                          other_ids=tuple(sorted({(o.value, o.authority) for o in others
                                                  if ID_RE.match(o.value)})))
    except IdentityError as exc:
        raise AdtError(f"PID: {exc}") from None
    if trigger in MERGES:
        try:
            mrg = message.segment("MRG")
        except KeyError:
            raise AdtError("A40 without MRG segment") from None
        prior, _ = _identifiers(field(mrg, 1), rep, comp, sub)
        if prior is None:
            raise AdtError("MRG-1 carries no identifier")
        return AdtEvent(trigger, control_id, patient, prior.value)
    return AdtEvent(trigger, control_id, patient)


def ack(text: str, code: str, note: str = "") -> str:
    """The ACK of a message (AA accepted, AE error, AR rejected), built by the hl7 library."""
    try:
        reply = hl7.parse(text).create_ack(code)
    except Exception:  # unparseable input: a minimal ACK so the sender still gets an answer
        return f"MSH|^~\\&|CLINPHOTO||||||ACK|0|P|2.5\rMSA|{code}|"
    text_out = str(reply).strip("\r")
    if note:  # ERR-8 user message; our own words only, stripped of HL7 delimiters
        text_out += "\rERR|||||E|||" + re.sub(r"[^A-Za-z0-9 .,;:()'-]", " ", note)[:80]
    return text_out


Apply = Callable[[AdtEvent], Awaitable[None]]


async def handle_message(text: str, apply: Apply) -> str:
    try:
        event = parse_adt(text)
    except AdtError as exc:
        log.warning("HL7 message rejected: %s", exc)  # the reason only, never the message
        return ack(text, "AR", str(exc))
    try:
        await apply(event)
    except IdentityError as exc:
        return ack(text, "AR", str(exc))
    except Exception:
        log.exception("HL7 %s could not be applied", event.trigger)
        return ack(text, "AE", "internal error; resend later")
    return ack(text, "AA")


async def serve_mllp(host: str, port: int, apply: Apply, encoding: str = "utf-8") -> asyncio.AbstractServer:
    async def on_connect(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
        try:
            while not reader.at_eof():
                message = await reader.readmessage()
                writer.writemessage(hl7.parse(await handle_message(str(message), apply)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, hl7.mllp.InvalidBlockError):
            pass
        except Exception as exc:  # an unreadable block: drop the connection, the sender resends
            log.warning("HL7 MLLP connection dropped: %s", type(exc).__name__)
        finally:
            writer.close()

    return await hl7.mllp.start_hl7_server(on_connect, host=host, port=port, encoding=encoding)
