"""Spreadsheet files as they come: semicolon- and pipe-separated CSV, UTF-16/UTF-32 with a
byte-order mark, non-UTF-8 text identified or refused; export in another encoding; rejects
files in the input's own BOM and line endings."""

from __future__ import annotations

import codecs
import json


def _names(crm):
    return [c["name"] for c in crm.json("ls")]


def test_semicolon_and_pipe_separated_files_are_detected(crm, tmp_path):
    (tmp_path / "de.csv").write_text('Name;E-Mail\n"Müller; Söhne GmbH";info@mueller.de\n'
                                     "Schmidt AG;kontakt@schmidt.de\n", encoding="utf-8")
    crm("import", "clients", tmp_path / "de.csv", "--map", "Name=name", "--map", "E-Mail=email")
    (tmp_path / "pipe.csv").write_text("name|email\nPipe Co|p@pipe.test\n")
    crm("import", "clients", tmp_path / "pipe.csv")
    assert _names(crm) == ["Müller; Söhne GmbH", "Pipe Co", "Schmidt AG"]
    assert crm.json("show", "Schmidt AG", "--fields", "email") == {"email": "kontakt@schmidt.de"}


def test_delimiter_option_and_its_check(crm, tmp_path):
    # A header of one column: nothing to detect, so --delimiter says it.
    (tmp_path / "one.csv").write_text("name\nA;B\n")
    crm("import", "clients", tmp_path / "one.csv")
    assert _names(crm) == ["A;B"]
    (tmp_path / "semi.txt").write_text("name;email\nC;c@c.test\n")
    crm("import", "clients", "-", "--delimiter", ";", "--format", "csv",
        input=(tmp_path / "semi.txt").read_bytes())
    assert "C" in _names(crm)
    result = crm("import", "clients", tmp_path / "one.csv", "--delimiter", ";;", ok=False)
    assert result.exit_code == 2 and "--delimiter ';;': give one character" in result.stderr


def test_utf16_and_utf32_with_a_bom_are_read_without_encoding(crm, tmp_path):
    # Excel's "Unicode text": UTF-16 little-endian with a BOM, tab-separated, CRLF.
    text = "name\temail\r\n王伟\twang@example.cn\r\n"
    (tmp_path / "excel.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    crm("import", "clients", tmp_path / "excel.txt", "--format", "tsv")
    (tmp_path / "be32.csv").write_bytes(codecs.BOM_UTF32_BE
                                        + "name\nZoë\n".encode("utf-32-be"))
    crm("import", "clients", tmp_path / "be32.csv")
    assert _names(crm) == ["Zoë", "王伟"]


def test_an_ambiguous_non_utf8_file_is_refused_naming_the_likely_encoding(
        crm, tmp_path, db_path, snapshot):
    crm("add", "Keep")
    before = snapshot(db_path)
    (tmp_path / "latin.csv").write_bytes(b"name\nCaf\xe9 M\xfcller\n")
    result = crm("import", "clients", tmp_path / "latin.csv", ok=False)
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert len(result.stderr.splitlines()) == 1
    assert (f"{tmp_path / 'latin.csv'}:2: column 4: cannot read byte 0xe9 as UTF-8; it looks "
            "like cp1252 or") in line
    assert "--encoding" in line
    assert snapshot(db_path) == before
    crm("import", "clients", tmp_path / "latin.csv", "--encoding", "cp1252")
    assert "Café Müller" in _names(crm)


def test_export_encoding_and_bom(crm, tmp_path):
    crm("add", "王伟")
    crm("export", "clients", "--fields", "name", "--encoding", "gb18030",
        "-o", tmp_path / "gb.csv")
    assert (tmp_path / "gb.csv").read_bytes() == "name\n王伟\n".encode("gb18030")
    crm("export", "clients", "--fields", "name", "--bom", "-o", tmp_path / "bom.csv")
    assert (tmp_path / "bom.csv").read_bytes() == codecs.BOM_UTF8 + "name\n王伟\n".encode()
    crm("export", "clients", "--fields", "name", "--encoding", "utf-16",
        "-o", tmp_path / "u16.csv")
    assert (tmp_path / "u16.csv").read_bytes() == (codecs.BOM_UTF16_LE
                                                    + "name\n王伟\n".encode("utf-16-le"))
    result = crm("export", "clients", "--encoding", "latin-1", "-o", tmp_path / "l1.csv",
                 ok=False)
    assert result.exit_code == 1 and "cannot write '王伟' in iso8859-1" in result.stderr
    assert not (tmp_path / "l1.csv").exists()
    # Round trip: what was exported in UTF-16 imports back without --encoding.
    crm("rm", "王伟", "--purge", "--yes")
    crm("import", "clients", tmp_path / "u16.csv")
    assert _names(crm) == ["王伟"]


def test_a_rejects_file_keeps_the_inputs_bom_and_line_endings(crm, tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(codecs.BOM_UTF8 + b"name;email\r\nGood;g@g.test\r\nBad;not-an-email\r\n")
    crm("import", "clients", source, "--skip-invalid", "--rejects", tmp_path / "bad.csv")
    data = (tmp_path / "bad.csv").read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(b"\r\n") == 2 and b"\n" not in data.replace(b"\r\n", b"")
    assert data.decode("utf-8-sig").splitlines()[0] == "name;email;error"
    u16 = tmp_path / "in16.csv"
    u16.write_bytes(codecs.BOM_UTF16_BE + "name,email\nBad,nope\n".encode("utf-16-be"))
    crm("import", "clients", u16, "--skip-invalid", "--rejects", tmp_path / "bad16.csv")
    raw = (tmp_path / "bad16.csv").read_bytes()
    assert raw.startswith(codecs.BOM_UTF16_BE)
    assert raw[2:].decode("utf-16-be").startswith("name,email,error\nBad,nope,")
    summary = json.loads(crm("import", "clients", tmp_path / "bad16.csv", "--skip-invalid",
                             "--json").stdout)
    assert summary["rejected"] == 1
