"""Overdue invoices in `crm due`, in its mail digest (once per invoice per reminder step,
against a real SMTP server on loopback) and on the client card."""

from __future__ import annotations

import json

from test_cli_due_email import ledger, smtp_server, write_config  # noqa: F401 (a fixture)


def _due(crm, *args):
    return json.loads(crm("due", *args, "--json").stdout)


def test_an_overdue_invoice_is_a_due_item_from_its_first_reminder_step(crm, monkeypatch):
    crm("add", "Acme", "--owner", "alex")
    crm("add", "Beta")
    # due 2026-11-21: one day late on 2026-11-22 (CRM_NOW)
    crm("invoice", "add", "Acme", "1200", "--issued", "2026-10-22", "--terms", "30")
    crm("invoice", "pay", "INV-0001", "200", "--at", "2026-11-01")
    crm("invoice", "add", "Beta", "50", "--issued", "2026-11-20", "--terms", "0")  # 2 d late
    crm("invoice", "add", "Beta", "70", "--issued", "2026-11-22", "--terms", "0")  # due today
    rows = _due(crm)
    assert [(r["kind"], r["client"], r["status"], r["days_late"], r["item_key"]) for r in rows] \
        == [("invoice", "Beta", "overdue", 2, "invoice:2:step1"),
            ("invoice", "Acme", "overdue", 1, "invoice:1:step1")]
    assert rows[1]["what"] == "invoice INV-0001: 1000 of 1200 USD open"
    assert rows[1]["owner"] == "alex" and rows[1]["due"] == "2026-11-21"
    assert [r["client"] for r in _due(crm, "--owner", "alex")] == ["Acme"]
    assert [r["client"] for r in _due(crm, "--overdue")] == ["Beta", "Acme"]
    table = crm("due").stdout
    assert "invoice INV-0001: 1000 of 1200 USD open" in table and "1d late" in table
    summary = json.loads(crm("report", "summary", "--json").stdout)["overview"]
    assert summary["overdue"] == 2
    crm("invoice", "pay", "INV-0002", "50")
    assert [r["id"] for r in _due(crm)] == [1]
    monkeypatch.setenv("CRM_NOW", "2026-11-28T10:00:00+00:00")
    assert [r["item_key"] for r in _due(crm)] == ["invoice:1:step7", "invoice:3:step1"]


def test_reminder_steps_come_from_the_config(crm, tmp_path):
    (tmp_path / "config.yaml").write_text("timezone: UTC\ninvoices:\n  remind_days: [3, 10]\n")
    crm("add", "Acme")
    crm("invoice", "add", "Acme", "10", "--issued", "2026-11-20", "--terms", "0")  # 2 d late
    crm("invoice", "add", "Acme", "20", "--issued", "2026-11-01", "--terms", "0")  # 21 d late
    assert [r["item_key"] for r in _due(crm)] == ["invoice:2:step10"]


def test_the_digest_mails_an_overdue_invoice_once_per_reminder_step(
        crm, tmp_path, db_path, smtp_server, monkeypatch):
    handler, port = smtp_server()
    write_config(tmp_path, port)
    crm("add", "Acme")
    crm("invoice", "add", "Acme", "1200", "--issued", "2026-10-22", "--terms", "30")

    def run(day: str) -> int:
        monkeypatch.setenv("CRM_NOW", f"{day}T10:00:00+00:00")
        before = len(handler.messages)
        crm("due", "--email", "--no-stale")
        return len(handler.messages) - before

    assert run("2026-11-22") == 1  # 1 day late: step 1
    assert "invoice INV-0001: 1200 of 1200 USD open" in handler.messages[-1].text
    assert run("2026-11-22") == 0
    assert run("2026-11-23") == 0  # still step 1, another day: not again
    assert run("2026-11-27") == 0
    assert run("2026-11-28") == 1  # 7 days late: step 7
    assert run("2026-12-05") == 0
    assert run("2026-12-21") == 1  # 30 days late
    assert run("2027-01-30") == 0
    keys = [k for _, _, k in ledger(db_path)]
    assert [k.split(":", 2)[2] for k in keys] == ["step1", "step7", "step30"]
    # paid: nothing more to say
    monkeypatch.setenv("CRM_NOW", "2027-01-30T10:00:00+00:00")
    crm("invoice", "pay", "INV-0001", "1200")
    assert crm("due").stdout == ""


def test_the_card_shows_the_open_balance_and_the_open_invoices(crm):
    crm("add", "Acme")
    crm("invoice", "add", "Acme", "1200", "--issued", "2026-09-01", "--terms", "30")
    crm("invoice", "add", "Acme", "300", "--issued", "2026-11-20")
    crm("invoice", "add", "Acme", "99", "--currency", "EUR", "--issued", "2026-11-20")
    crm("invoice", "add", "Acme", "5", "--issued", "2026-11-20")
    crm("invoice", "pay", "INV-0001", "200", "--at", "2026-10-01")
    crm("invoice", "pay", "INV-0004", "5")
    card = json.loads(crm("show", "Acme", "--json").stdout)
    assert card["open_balance"] == {"EUR": 99, "USD": 1300}
    assert [(i["number"], i["balance"], i["status"], i["days_late"])
            for i in card["open_invoices"]] == [("INV-0001", 1000, "overdue", 52),
                                                 ("INV-0002", 300, "open", 0),
                                                 ("INV-0003", 99, "open", 0)]
    text = crm("show", "Acme").stdout
    [owes] = [line.split(None, 1)[1] for line in text.splitlines()
              if line.startswith("  owes ")]
    assert owes == "1,300.00 USD, 99.00 EUR on 3 invoices, 1 overdue (1,000.00 USD)"
    assert "Open invoices" in text
    crm("add", "Beta")
    assert "owes" not in crm("show", "Beta").stdout
    assert json.loads(crm("show", "Beta", "--json").stdout)["open_balance"] == {}
