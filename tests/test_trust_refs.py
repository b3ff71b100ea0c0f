"""Trust: a client reference never quietly picks one of two readings, on the command line
or in an import. Customer numbers with leading zeros are never row ids."""

from __future__ import annotations

import pytest


@pytest.fixture
def numbered(crm, tmp_path):
    """Clients whose external ids are customer numbers that are not their row ids."""
    rows = ["name,external_id"] + [f"Cust {n},{n:05d}" for n in (40, 4, 18, 7, 1)]
    rows += [f"Filler {i},F{i}" for i in range(20)]
    (tmp_path / "clients.csv").write_text("\n".join(rows) + "\n")
    crm("import", "clients", tmp_path / "clients.csv")
    return {c["external_id"]: c["id"] for c in crm.json("ls")}


LEADING_ZEROS = ["00004", "00018", "00040", "00007", "00001"]


@pytest.mark.parametrize("number", LEADING_ZEROS)
def test_a_deal_import_binds_customer_numbers_to_the_external_id_never_the_row_id(
        numbered, crm, tmp_path, number):
    (tmp_path / "deals.csv").write_text(f"client,title,amount,at\n{number},Order,10,2026-01-05\n")
    crm("import", "deals", tmp_path / "deals.csv")
    [deal] = crm.json("deals")
    assert deal["client_id"] == numbered[number]
    assert deal["client_id"] != int(number)


@pytest.mark.parametrize("number", LEADING_ZEROS)
def test_the_command_line_reads_a_leading_zero_as_a_customer_number(numbered, crm, number):
    crm("log", number, "called about the order")
    [row] = crm.json("history", "--limit", "1")
    assert row["client_id"] == numbered[number]
    assert crm.json("show", number)["client"]["id"] == numbered[number]


@pytest.mark.parametrize("number", ["00099", "000", "01"])
def test_a_leading_zero_that_is_nobodys_number_matches_no_client(numbered, crm, number):
    result = crm("log", number, "x", ok=False)
    assert result.exit_code == 1 and f"no client matches '{number}'" in result.stderr


@pytest.fixture
def clash(crm):
    """Client 2's id is client 4's external id, client 3's name is '1'."""
    for name in ("Alpha", "Bravo", "1"):
        crm("add", name)
    crm("add", "Delta", "--external-id", "2", "--email", "d@delta.test")
    return crm


CLI_COMMANDS = [("show", "{}"), ("log", "{}", "hello"), ("followup", "{}", "tomorrow", "x"),
                ("deal", "{}", "100"), ("tag", "{}", "vip"), ("stage", "{}", "lead"),
                ("edit", "{}", "--phone", "+1 555 0100"), ("contact", "add", "{}", "Ann"),
                ("contact", "ls", "{}"), ("cadence", "{}", "30d"), ("rm", "{}"),
                ("merge", "{}", "Alpha"), ("history", "{}")]


@pytest.mark.parametrize("args", CLI_COMMANDS, ids=lambda a: a[0])
@pytest.mark.parametrize("ref,other,how", [("2", 4, "external id"), ("1", 3, "name")])
def test_every_command_refuses_a_reference_with_two_readings(clash, snapshot, db_path, args, ref,
                                                             other, how):
    before = snapshot(db_path)
    result = clash(*[a.format(ref) for a in args], ok=False)
    assert result.exit_code == 1, result.stdout
    line = result.stderr
    assert line.count("\n") == 1
    assert f"'{ref}' is the id of client {ref}" in line
    assert f"the {how} of client {other}" in line
    assert f"'#{ref}'" in line and f"'#{other}'" in line
    assert snapshot(db_path) == before


@pytest.mark.parametrize("form", ["#{}", "id:{}", "ID:{}", "# {}"])
def test_the_explicit_id_form_names_the_client_by_id(clash, form):
    clash("log", form.format(2), "by id")
    clash("log", form.format(4), "by id")
    assert [r["client_id"] for r in clash.json("history", "--limit", "2")] == [4, 2]
    assert clash.json("show", form.format(3))["client"]["name"] == "1"


def test_the_other_reading_has_its_own_spelling(clash):
    assert clash.json("show", "d@delta.test")["client"]["id"] == 4
    assert clash.json("show", "Delta")["client"]["id"] == 4


def test_an_explicit_id_that_does_not_exist_is_not_found(clash):
    result = clash("show", "#99", ok=False)
    assert result.stderr == "crm: error: no client matches '#99'\n"


def test_a_number_that_is_one_clients_id_and_its_own_external_id_is_that_client(crm):
    crm("add", "Solo", "--external-id", "1")
    assert crm.json("show", "1")["client"]["name"] == "Solo"


@pytest.mark.parametrize("kind,columns,row", [
    ("deals", "client,title,amount,at", "2,Order,10,2026-01-05"),
    ("interactions", "client,at,summary", "2,2026-01-05T10:00:00Z,called"),
    ("followups", "client,due,note", "2,2026-12-01,call back"),
    ("contacts", "client,name", "2,Ann"),
])
def test_an_import_row_with_two_readings_is_an_error_naming_both(clash, tmp_path, snapshot,
                                                                  db_path, kind, columns, row):
    path = tmp_path / f"{kind}.csv"
    path.write_text(f"{columns}\n{row}\n")
    before = snapshot(db_path)
    result = clash("import", kind, path, ok=False)
    assert result.exit_code == 1
    assert ("field 'client': value '2': is the id of client 2 and the external id of client 4; "
            "name the client in a client_id column") in result.stderr
    assert snapshot(db_path) == before
    path.write_text(f"{columns.replace('client', 'client_id', 1)}\n{row}\n")
    clash("import", kind, path)
    path.write_text(f"{columns.replace('client', 'client_external_id', 1)}\n{row}\n")
    clash("import", kind, path)
    owners = {r["client_id"] for r in clash.json("export", kind)}
    assert owners == {2, 4}


def test_an_import_of_many_rows_resolves_through_the_preloaded_maps_the_same_way(
        numbered, crm, tmp_path):
    lines = ["client,title,amount,at"] + [
        f"{n},Order {i},1,2026-01-05" for i, n in enumerate(LEADING_ZEROS * 40)]
    (tmp_path / "deals.csv").write_text("\n".join(lines) + "\n")
    crm("import", "deals", tmp_path / "deals.csv")
    owners = {d["client_id"] for d in crm.json("export", "deals")}
    assert owners == {numbered[n] for n in LEADING_ZEROS}


# --- import columns: typos are not custom fields --------------------------------------


@pytest.mark.parametrize("column,field", [("emial", "email"), ("nme", "name"),
                                          ("Compnay", "company"), ("phnoe", "phone"),
                                          ("extrenal_id", "external_id"), ("tgas", "tags")])
def test_a_client_column_within_a_typo_of_a_field_is_an_error_suggesting_map(
        crm, store, tmp_path, snapshot, db_path, column, field):
    path = tmp_path / "c.csv"
    path.write_text(f"name,{column}\nAcme,x\n" if column != "nme" else "nme,email\nAcme,a@b.c\n")
    before = snapshot(db_path)
    result = crm("import", "clients", path, ok=False)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert f"column '{column}': looks like a typo of '{field}'" in result.stderr
    assert f"--map '{column}={field}'" in result.stderr
    assert snapshot(db_path) == before
    if field != "name":
        crm("import", "clients", path, "--map", f"{column}={column}")  # kept on purpose


@pytest.mark.parametrize("kind,header,row,typo", [
    ("interactions", "clinet,at,summary", "1,2026-01-01,x", "client"),
    ("deals", "client,amonut,at", "1,5,2026-01-01", "amount"),
    ("followups", "client,due,ntoe", "1,2026-12-01,x", "note"),
])
def test_a_typo_in_a_child_kind_names_the_field_it_looks_like(crm, tmp_path, kind, header,
                                                              row, typo):
    crm("add", "Acme")
    path = tmp_path / "x.csv"
    path.write_text(f"{header}\n{row}\n")
    result = crm("import", kind, path, ok=False)
    assert result.exit_code == 1 and f"looks like a typo of '{typo}'" in result.stderr


def test_unknown_client_columns_are_reported_as_custom_fields(crm, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,region,phone2,loyalty tier\nAcme,EU,+1 555 0100,gold\n")
    result = crm("import", "clients", path)
    assert (f"crm: {path}: kept as custom fields (no client field has these names): region, "
            "phone2, loyalty tier\n") in result.stderr
    assert crm.json("ls")[0]["custom"] == {"region": "EU", "phone2": "+1 555 0100",
                                           "loyalty tier": "gold"}


@pytest.mark.parametrize("kind,header,row,field", [
    ("clients", "full name,phone", "Acme,+1 555 0100", "name"),
    ("interactions", "client,summary", "1,called", "at"),
    ("interactions", "at,summary", "2026-01-01,called", "client"),
    ("deals", "client,amount", "1,5", "at"),
    ("followups", "client,note", "1,x", "due"),
])
def test_a_file_where_no_column_maps_to_a_required_field_says_so_once(
        crm, tmp_path, snapshot, db_path, kind, header, row, field):
    crm("add", "Acme")
    path = tmp_path / "x.csv"
    path.write_text(f"{header}\n" + f"{row}\n" * 50)
    before = snapshot(db_path)
    result = crm("import", kind, path, ok=False)
    assert result.exit_code == 1
    assert result.stderr == (f"crm: error: {path}: no column maps to '{field}'; use --map "
                             f"'COLUMN={field}'\n")
    assert snapshot(db_path) == before
