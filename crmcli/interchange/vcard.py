"""vCard 3.0 for contacts, through vobject (parsing and escaping are its job, not ours).

Export: one card per contact: FN, N, EMAIL, TEL, ORG (the client's company, else its
name), TITLE (role), NOTE, UID `crmcli-contact-<id>`, REV (updated_at) and X-CRM-*
properties for what vCard has no field for (client id, decision level, primary flag,
created_at), so an export re-imports to the same contacts.

Import: each card becomes a contact record. Its client is X-CRM-CLIENT-ID when
present, else the client whose name (or company) is the card's ORG.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

_UID = re.compile(r"^crmcli-contact-(\d+)$")


class VCardRecord(dict):
    """A card as import fields; .text keeps the card as read (for the rejects file)."""

    text: str = ""


def _split_cards(stream) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each BEGIN:VCARD..END:VCARD block."""
    buf: list[str] = []
    start = 0
    for number, line in enumerate(stream, 1):
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            buf, start = [line], number
        elif buf:
            buf.append(line)
            if upper == "END:VCARD":
                yield start, "".join(buf)
                buf = []
    if buf:
        yield start, "".join(buf)


def _value(card: Any, name: str) -> str | None:
    prop = card.contents.get(name)
    if not prop:
        return None
    value = prop[0].value
    if isinstance(value, list):
        value = value[0] if value else None
    text = str(value).strip() if value is not None else ""
    return text or None


def read_vcards(stream) -> Iterator[tuple[int, Any, dict | None]]:
    """(line, record, problem) per card, as crmcli.interchange.importer expects from a source."""
    import vobject

    for line, text in _split_cards(stream):
        record = VCardRecord()
        record.text = text
        try:
            card = vobject.readOne(text)
        except Exception as exc:  # vobject raises several types for malformed cards
            yield line, record, {"error": f"not a valid vCard: {exc}"}
            continue
        name = _value(card, "fn")
        if name is None and "n" in card.contents:
            n = card.n.value
            name = " ".join(p for p in (n.prefix, n.given, n.additional, n.family, n.suffix)
                            if p and isinstance(p, str)).strip() or None
        record["name"] = name
        uid = _value(card, "uid")
        match = _UID.match(uid or "")
        if match:
            record["id"] = match.group(1)
        client = _value(card, "x-crm-client-id")
        if client:
            record["client_id"] = client
        else:
            record["client_name"] = _value(card, "org")
        record["email"] = _value(card, "email")
        record["phone"] = _value(card, "tel")
        record["role"] = _value(card, "title")
        record["notes"] = _value(card, "note")
        for prop, field in (("x-crm-decision-level", "decision_level"),
                            ("x-crm-primary", "is_primary"), ("x-crm-created", "created_at"),
                            ("rev", "updated_at")):
            value = _value(card, prop)
            if value is not None:
                record[field] = value
        yield line, record, None


def with_error(record: Any, error: str) -> str:
    """A rejected card as read, with X-CRM-ERROR saying why (ignored on re-import)."""
    import vobject

    text = getattr(record, "text", "") or ""
    try:
        card = vobject.readOne(text)
    except Exception:
        return text if text.endswith("\n") else text + "\n"
    for old in list(card.contents.get("x-crm-error", [])):
        card.remove(old)
    card.add("x-crm-error").value = error
    return card.serialize()


def _text(value: str) -> str:
    """vCard text holds no control characters (see crmcli.render.safe)."""
    from crmcli.render.safe import visible

    return visible(value.replace("\r\n", "\n"))


def card_text(contact: dict) -> str:
    import vobject

    card = vobject.vCard()
    name = _text(contact["name"])
    card.add("fn").value = name
    given, family = name.rsplit(" ", 1) if " " in name else ("", name)
    card.add("n").value = vobject.vcard.Name(family=family, given=given)
    if contact.get("email"):
        email = card.add("email")
        email.value = contact["email"]
        email.type_param = "INTERNET"
    if contact.get("phone"):
        card.add("tel").value = contact["phone"]
    card.add("org").value = [_text(contact.get("client_company") or contact["client_name"])]
    if contact.get("role"):
        card.add("title").value = _text(contact["role"])
    if contact.get("notes"):
        card.add("note").value = _text(contact["notes"])
    card.add("uid").value = f"crmcli-contact-{contact['id']}"
    card.add("rev").value = contact["updated_at"]
    card.add("x-crm-client-id").value = str(contact["client_id"])
    if contact.get("decision_level"):
        card.add("x-crm-decision-level").value = contact["decision_level"]
    card.add("x-crm-primary").value = "true" if contact["is_primary"] else "false"
    card.add("x-crm-created").value = contact["created_at"]
    return card.serialize()


def write_vcards(contacts: Iterable[dict], out) -> int:
    count = 0
    for contact in contacts:
        out.write(card_text(contact))
        count += 1
    return count
