"""Help that reads like a man page: usage lines and option names without type noise
(`{CLIENT}`, `[[CLIENT]]`, `<list[str]>`, `<int range>`), whole one-line summaries in the
command list, and real examples under every command (crmcli/commands/_examples.py)."""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup


def summary(help_text: str | None) -> str:
    """The first paragraph of a command's help, whole, on one line."""
    first = (help_text or "").strip().split("\n\n", 1)[0]
    return " ".join(first.split())


def _option_metavar(param: Any) -> str:
    desc = param.type_descriptor
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    base = desc.annotation
    args = getattr(base, "__args__", None)
    if desc.is_list and args:
        base = args[0]
    if base is int:
        return "N"
    if base is float:
        return "NUMBER"
    longest = max(param.opts, key=len).lstrip("-")
    return longest.upper().replace("-", "_")


class _Argument(TyperArgument):
    """An argument listed by its name alone (CLIENT, not CLIENT <str>)."""

    def display_type_rich(self, ctx) -> None:
        return None


def tidy_params(params: list) -> None:
    """Plain metavars: N for numbers, the choices for a choice, the option's name for text,
    none for a flag."""
    for param in params:
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = param.name.upper()
            if type(param) is TyperArgument:
                param.__class__ = _Argument
            continue
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
            continue
        try:
            param.metavar = _option_metavar(param)
        except (AttributeError, TypeError, ValueError):  # another Typer layout: its own
            continue


def _usage_piece(param: TyperArgument) -> str:
    name = (param.metavar or param.name.upper()).strip("[]").removesuffix("...")
    if param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"


class _PlainHelp:
    """What commands and groups share: whole summaries, and no metavar on --help."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return summary(self.short_help or self.help)

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class CrmCommand(_PlainHelp, TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy_params(self.params)

    def format_epilog(self, ctx, formatter) -> None:
        # The examples as written: Click would rewrap them into one paragraph.
        if self.epilog:
            formatter.write_paragraph()
            for line in self.epilog.splitlines():
                formatter.write(f"{'':>{formatter.current_indent}}{line}\n")

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        pieces += [_usage_piece(p) for p in self.get_params(ctx) if isinstance(p, TyperArgument)]
        return pieces


class CrmGroup(_PlainHelp, TyperGroup):
    pass
