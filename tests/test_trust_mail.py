"""Trust: the due digest never takes one record for another. A follow-up given the id of an
undone or purged one is mailed; two paths to one book share one mail lock."""

from __future__ import annotations

import fcntl

import pytest

from tests.test_cli_due_email import server, smtp_server, write_config  # noqa: F401 (fixtures)


def _texts(handler) -> list[str]:
    return [m.message.get_body(("plain",)).get_content() for m in handler.messages]


@pytest.mark.parametrize("remove", [("undo",), ("rm", "Acme", "--purge", "--yes")],
                         ids=["undo", "purge"])
def test_a_new_follow_up_with_a_reused_id_is_mailed(crm, server, tmp_path, remove):  # noqa: F811
    handler, port = server
    write_config(tmp_path, port)
    crm("add", "Acme")
    crm("add", "Bank")
    first = crm("followup", "Acme", "today", "call Acme").stdout.strip()
    crm("due", "--email")
    assert len(handler.messages) == 1 and "call Acme" in _texts(handler)[0]
    crm(*remove)
    second = crm("followup", "Bank", "today", "call Bank").stdout.strip()
    assert second == first  # SQLite hands out the freed id again ...
    crm("due", "--email")
    assert len(handler.messages) == 2  # ... and the ledger does not take it for the old one
    assert "call Bank" in _texts(handler)[1]
    crm("due", "--email")
    assert len(handler.messages) == 2  # mailed once a day, as ever


def test_the_same_follow_up_is_still_mailed_once_a_day(crm, server, tmp_path):  # noqa: F811
    handler, port = server
    write_config(tmp_path, port)
    crm("add", "Acme")
    crm("followup", "Acme", "today", "call")
    for _ in range(3):
        crm("due", "--email")
    assert len(handler.messages) == 1


def test_two_paths_to_one_book_take_one_mail_lock(crm, db_path, tmp_path):
    from crmcli.errors import CrmError
    from crmcli.services.digest import one_sender

    crm("add", "Acme")
    link = tmp_path / "elsewhere" / "book.db"
    link.parent.mkdir()
    link.symlink_to(db_path)
    with open(f"{db_path}.mail-lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(CrmError, match="another 'crm due --email'"):
            with one_sender(link, wait=0.2):
                pass
    assert not (link.parent / "book.db.mail-lock").exists()


def test_a_stale_client_given_the_id_of_a_merged_away_one_is_mailed(crm, server,  # noqa: F811
                                                                     tmp_path):
    handler, port = server
    write_config(tmp_path, port)
    old = "created_at\n"
    (tmp_path / "a.csv").write_text(f"name,{old}Acme,2026-01-01T00:00:00Z\n"
                                    "Bank,2026-01-01T00:00:00Z\n")
    crm("import", "clients", tmp_path / "a.csv")
    crm("cadence", "Bank", "1w")
    crm("due", "--email")
    assert len(handler.messages) == 1 and "Bank" in _texts(handler)[0]
    crm("merge", "Acme", "Bank")
    (tmp_path / "c.csv").write_text(f"name,{old}Cobalt,2026-01-01T00:00:00Z\n")
    crm("import", "clients", tmp_path / "c.csv")
    assert crm.json("show", "Cobalt")["client"]["id"] == 2  # Bank's id, handed out again
    crm("cadence", "Cobalt", "1w")
    crm("due", "--email")
    assert len(handler.messages) == 2 and "Cobalt" in _texts(handler)[1]
