"""vCard: crm export contacts --format vcf and crm import contacts FILE.vcf (vobject)."""

from __future__ import annotations

from pathlib import Path

import vobject

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def contacts(store) -> list[dict]:
    return store.query("SELECT client_id, name, role, email, phone, decision_level, is_primary "
                       "FROM contacts ORDER BY id")


def test_import_vcards_finds_the_client_by_org_and_maps_title_to_role(crm, store):
    acme = store.clients.add("Acme")
    result = crm("import", "contacts", FIXTURES / "contacts.vcf")
    assert "imported contacts from" in result.stderr and "2 inserted" in result.stderr
    assert contacts(store) == [
        {"client_id": acme, "name": "Jane Roe", "role": "CTO", "email": "jane@acme.com",
         "phone": "+1 555 0100", "decision_level": None, "is_primary": 0},
        {"client_id": acme, "name": "张伟", "role": "采购经理", "email": None, "phone": None,
         "decision_level": None, "is_primary": 0}]


def test_card_whose_org_matches_no_client_is_rejected_as_a_card(crm, store, tmp_path,
                                                                db_path, snapshot):
    before = snapshot(db_path)
    result = crm("import", "contacts", FIXTURES / "contacts.vcf", ok=False)
    assert (f"{FIXTURES / 'contacts.vcf'}:1: field 'client_name': value 'Acme': no client has "
            "this name or company") in result.stderr
    assert snapshot(db_path) == before
    rejects = tmp_path / "rejects.vcf"
    crm("import", "contacts", FIXTURES / "contacts.vcf", "--skip-invalid", "--rejects", rejects)
    cards = list(vobject.readComponents(rejects.read_text()))
    assert [c.fn.value for c in cards] == ["Jane Roe", "张伟"]
    assert cards[0].x_crm_error.value.startswith("field 'client_name'")
    store.clients.add("Acme")
    result = crm("import", "contacts", rejects)  # fixed by adding the client: re-imports
    assert "2 inserted" in result.stderr


def test_export_vcf_writes_standard_cards(crm, store):
    acme = store.clients.add("Acme Rockets")
    store.contacts.add(acme, "Jane Roe", role="CTO; founder", email="jane@acme.com",
                       phone="+1 555 0100", decision_level="decision-maker", is_primary=True,
                       notes="two\nlines")
    out = crm("export", "contacts", "--format", "vcf").stdout
    [card] = list(vobject.readComponents(out))
    assert card.fn.value == "Jane Roe"
    assert (card.n.value.given, card.n.value.family) == ("Jane", "Roe")
    assert card.org.value == ["Acme Rockets"]
    assert card.title.value == "CTO; founder"
    assert card.email.value == "jane@acme.com"
    assert card.tel.value == "+1 555 0100"
    assert card.note.value == "two\nlines"
    assert card.uid.value == "crmcli-contact-1"


def test_vcf_export_reimports_to_the_same_contacts(crm, store, tmp_path):
    acme = store.clients.add("Acme")
    other = store.clients.add("Acme")  # same name: the card's client id decides
    store.contacts.add(other, "王芳", role="经理", email="wang@example.cn",
                       decision_level="influencer", is_primary=True)
    store.contacts.add(acme, "Bob", phone="+44 20 7946 0000")
    path = tmp_path / "book.vcf"
    crm("export", "contacts", "-o", path)
    before = crm("export", "contacts").stdout
    crm("contact", "rm", "1")
    crm("contact", "rm", "2")
    result = crm("import", "contacts", path)
    assert "2 inserted" in result.stderr
    assert crm("export", "contacts").stdout == before
    result = crm("import", "contacts", path)
    assert "0 inserted, 0 updated, 2 unchanged" in result.stderr


def test_vcf_org_is_the_clients_company_and_a_card_without_crm_ids_finds_it(crm, store,
                                                                             tmp_path):
    wang = store.clients.add("王伟", company="北京科技有限公司")
    store.contacts.add(wang, "赵敏", role="CEO")
    out = crm("export", "contacts", "--format", "vcf").stdout
    [card] = list(vobject.readComponents(out))
    assert card.org.value == ["北京科技有限公司"]
    # an address book's own card: no UID or X-CRM-* of ours, ORG names the company
    plain = tmp_path / "phone.vcf"
    plain.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:李娜\r\nORG:北京科技有限公司\r\n"
                     "TEL:+86 10 1234 5678\r\nEND:VCARD\r\n", encoding="utf-8")
    result = crm("import", "contacts", plain)
    assert "1 inserted" in result.stderr
    assert contacts(store)[-1] == {"client_id": wang, "name": "李娜", "role": None,
                                   "email": None, "phone": "+86 10 1234 5678",
                                   "decision_level": None, "is_primary": 0}
