"""A team on a PostgreSQL book: crm team init|add|ls|rm (see crmcli/store/team.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from crmcli.commands._context import get_store
from crmcli.commands._errors import command, fail
from crmcli.commands._help import CrmGroup
from crmcli.commands._options import FormatOption, JsonOption, output_format
from crmcli.render.output import emit_rows, message

team_app = typer.Typer(cls=CrmGroup, no_args_is_help=True,
                       help="A team on a PostgreSQL book: roles the database enforces.")

TEAM_FIELDS = ["name", "role", "login", "clients"]


def init_team() -> None:
    """Set the book up for a team (an admin, once; again is harmless): its schema, the
    group roles DB_admin, DB_member, DB_readonly, their grants and row-level security."""
    store = get_store()
    result = store.team.init()
    groups = result["groups"]
    made = f"created {', '.join(result['created'])}" if result["created"] else "roles existed"
    message(f"team set up on {store.location}: {groups['admin']}, {groups['member']}, "
            f"{groups['read-only']} ({made}); add people with crm team add NAME --role member")


def add_member(
    name: Annotated[str, typer.Argument(help="The person's login role (made if missing).")],
    role: Annotated[str, typer.Option("--role", metavar="admin|member|read-only",
                                      help="What they may do (README: Team).")] = "member",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Set the login's password from the first line of stdin.")
    ] = False,
) -> None:
    """Add a person to the team: a login role in the admin, member or read-only group."""
    password = None
    if password_stdin:
        import sys

        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin: stdin gave no password (an empty first line)", code=2)
    result = get_store(create=False).team.add(name, role, password)
    how = "added" if result["created"] else "moved"
    if result["created"] and password is None:
        note = ("; no password set: the server's own authentication applies "
                "(or add again with --password-stdin)")
    else:
        note = "" if result["login"] else f"; {name} cannot log in (ALTER ROLE {name} LOGIN)"
    message(f"{how} {name} as {result['role']}{note}")


def list_members(fmt: FormatOption = None, as_json: JsonOption = False) -> None:
    """Everyone in the team, their role, and how many clients each owns."""
    rows = get_store(create=False).team.members()
    emit_rows(rows, output_format(fmt, as_json), fields=TEAM_FIELDS)


def remove_member(
    name: Annotated[str, typer.Argument(help="The person's login role.")],
) -> None:
    """Take a person out of the team (their login role and their clients stay: hand those
    over with crm edit CLIENT --owner)."""
    if not get_store(create=False).team.remove(name):
        fail(f"{name} is not in this book's team (crm team ls)")
    message(f"removed {name} from the team (the login role remains: DROP ROLE to delete it)")


def register(app: typer.Typer) -> None:
    command(team_app, "init")(init_team)
    command(team_app, "add")(add_member)
    command(team_app, "ls")(list_members)
    command(team_app, "rm")(remove_member)
    app.add_typer(team_app, name="team")
