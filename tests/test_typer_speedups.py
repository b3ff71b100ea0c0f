"""crmcli/_typer_speedups.py leans on Typer 0.29's internals to halve start-up. These tests
fail (never skip) when a Typer release changes what it relies on, and check that the
switch ($CRM_TYPER_SPEEDUPS) really turns the speed-ups on and off. They pass whichever
way the suite itself runs: each sets the switch it needs."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main
from typer import _click, _coercion, _param_types, core, models

from crmcli import _typer_speedups as speedups
from crmcli import cli

ROOT = Path(__file__).resolve().parents[1]


def _params(parameters) -> list[tuple[str, str]]:
    return [(p.name, p.kind.name) for p in parameters.values()]


def test_typer_internals_have_the_shape_the_speedups_rely_on():
    # The method replaced, and the attribute it caches the real coercion in.
    param_cls = core._TyperParameter
    assert callable(vars(param_cls).get("get_runtime_param")), "Typer renamed get_runtime_param"
    assert issubclass(core.TyperOption, param_cls) and issubclass(core.TyperArgument, param_cls)
    # Typer's own coercion, built when a value needs it.
    assert _params(inspect.signature(_coercion.build_runtime_param).parameters) == [
        ("descriptor", "POSITIONAL_OR_KEYWORD")]
    assert _params(inspect.signature(_coercion.RuntimeParam.coerce).parameters) == [
        ("self", "POSITIONAL_OR_KEYWORD"), ("value", "POSITIONAL_OR_KEYWORD"),
        ("param", "POSITIONAL_OR_KEYWORD"), ("ctx", "POSITIONAL_OR_KEYWORD")]
    assert _params(inspect.signature(_param_types.coerce_cli_choice).parameters) == [
        ("value", "POSITIONAL_OR_KEYWORD"), ("choices", "KEYWORD_ONLY"),
        ("case_sensitive", "KEYWORD_ONLY"), ("ctx", "KEYWORD_ONLY")]
    # What a built parameter carries: its cache (empty until used), its descriptor, its arity.
    built = typer.main.get_command(cli.app)
    param = next(p for p in built.commands["ls"].params if p.name == "limit")
    assert param._runtime_param is None
    assert {"multiple", "nargs", "type_descriptor"} <= set(dir(param))
    descriptor = param.type_descriptor
    assert {"annotation", "parameter_info", "file_annotation"} <= set(dir(descriptor))
    assert {"parser", "clamp", "min", "max", "case_sensitive"} <= set(
        dir(descriptor.parameter_info))
    # The registrations copied to build only the command that runs.
    assert {"registered_commands", "registered_groups", "registered_callback"} <= set(
        vars(cli.app))
    assert {"name", "callback"} <= set(vars(models.CommandInfo()))
    assert {"name", "typer_instance"} <= set(vars(models.TyperInfo()))


def test_only_the_invoked_command_is_built_and_the_app_is_left_whole():
    everything = set(typer.main.get_command(cli.app).commands)
    assert len(everything) > 20
    due = speedups.only_what_runs(cli.app, ["--db", "x.db", "due"], cli.ROOT_OPTIONS_WITH_VALUE,
                                  cli.ROOT_FLAGS)
    assert set(typer.main.get_command(due).commands) == {"due"}
    report = speedups.only_what_runs(cli.app, ["report", "nps"])
    assert set(typer.main.get_command(report).commands) == {"report"}
    # Help: every command, as a summary with the same help line.
    listing = typer.main.get_command(speedups.only_what_runs(cli.app, ["--help"]))
    assert set(listing.commands) == everything
    full = typer.main.get_command(cli.app)
    for name, command in listing.commands.items():
        assert command.get_short_help_str() == full.commands[name].get_short_help_str(), name
    assert set(typer.main.get_command(cli.app).commands) == everything  # untouched


def test_root_options_are_skipped_when_finding_the_command():
    find = lambda argv: speedups.invoked_name(argv, cli.ROOT_OPTIONS_WITH_VALUE,  # noqa: E731
                                              cli.ROOT_FLAGS)
    assert find(["--db", "x.db", "--debug", "due", "-n", "3"]) == "due"
    assert find(["--config=c.yaml", "show", "Acme"]) == "show"
    assert find(["--help"]) is None
    assert find([]) is None


def test_the_switch(monkeypatch):
    # turning it on here installs the coercion for this process: put back what was there
    monkeypatch.setattr(core._TyperParameter, "get_runtime_param",
                        core._TyperParameter.get_runtime_param)
    monkeypatch.delenv(speedups.SWITCH, raising=False)
    assert speedups.enabled()
    for off in ("0", "off", "false", "no", " 0 "):
        monkeypatch.setenv(speedups.SWITCH, off)
        assert not speedups.enabled()
        assert cli.for_argv(["due"]) is cli.app
    monkeypatch.setenv(speedups.SWITCH, "1")
    assert speedups.enabled()
    assert set(typer.main.get_command(cli.for_argv(["due"])).commands) == {"due"}


def test_the_suite_runs_with_the_switch_it_was_given(crm):
    crm("add", "Acme", "--tag", "vip")
    patched = core._TyperParameter.get_runtime_param is speedups.get_runtime_param
    assert patched is speedups.enabled(), (os.environ.get(speedups.SWITCH), patched)


PROBE = """
import atexit, json, sys
from typer import core
from crmcli import _typer_speedups
def _dump():
    print(json.dumps({"pydantic": "pydantic" in sys.modules,
                      "patched": core._TyperParameter.get_runtime_param
                                 is _typer_speedups.get_runtime_param}), file=sys.stderr)
atexit.register(_dump)
sys.argv = ["crm"] + sys.argv[1:]
from crmcli.cli import main
main()
"""


def _crm_process(tmp_path: Path, switch: str, *args: str):
    env = {**os.environ, speedups.SWITCH: switch, "CRM_DB": str(tmp_path / "crm.db")}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(done.stderr.splitlines()[-1])


def test_with_the_switch_on_the_speedups_are_in_effect_and_off_they_are_not(tmp_path, crm):
    crm("add", "Acme", "--tag", "vip")
    args = ("ls", "--tag", "vip", "-n", "5", "-f", "json")
    out_on, on = _crm_process(tmp_path, "1", *args)
    out_off, off = _crm_process(tmp_path, "0", *args)
    assert out_on == out_off and json.loads(out_on)[0]["name"] == "Acme"
    assert on == {"pydantic": False, "patched": True}
    # Off, Typer builds Pydantic's coercion for every parameter: if a new Typer no longer
    # does, the coercion speed-up has nothing left to do and should go.
    assert off == {"pydantic": True, "patched": False}


# Typer coerces option values with Pydantic; the speed-ups answer the plain cases
# themselves. The answers must be exactly Typer's.
CASES = ("5", "0", "12", "007", "-3", " 4", "1.5", "", "json", "JSON", "Json", "csv", "xml",
         "vip", "王伟", 5, 0, 2.5, True, ("a", "b"), ["x"], ())


def _all_params():
    def walk(command, path):
        for param in command.params:
            if hasattr(param, "type_descriptor"):
                yield path, command, param
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(cli.app), ("crm",))


@pytest.mark.parametrize("value", CASES, ids=repr)
def test_plain_coercion_agrees_with_typer(value):
    checked = 0
    for path, command, param in _all_params():
        ctx = _click.Context(command, info_name=path[-1])
        plain = speedups.plain_coercion(param.type_descriptor, value, ctx)
        if plain is speedups.UNSURE:
            continue
        real = _coercion.build_runtime_param(param.type_descriptor)
        try:
            expected = real._coerce_value(value, param=param, ctx=ctx)
        except Exception as exc:  # Typer rejects it: crm must have left it to Typer
            pytest.fail(f"{path} {param.name}: crm accepted {value!r} as {plain!r}, "
                        f"Typer says {exc}")
        assert plain == expected and type(plain) is type(expected), (path, param.name)
        checked += 1
    if value in ("5", "json", "vip", 5):
        assert checked > 0  # the fast path is really taken for the common cases

