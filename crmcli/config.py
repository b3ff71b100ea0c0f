"""Configuration: where it lives, its keys and their defaults, and validation.

Every key is listed in DEFAULTS (and in config.example.yaml). An unknown key or a
value of the wrong type is an error naming the file and the key: a typo in a
cron job's config must not silently fall back to a default.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from crmcli.errors import ConfigError
from crmcli.render.formats import FORMATS

DEFAULT_PIPELINE = ["lead", "qualified", "proposal", "negotiation", "won", "lost"]
# The open stages of a deal in order, each with its default probability (percent); a deal
# ends in one of DEAL_TERMINAL_STAGES, which are also its status.
DEFAULT_DEAL_STAGES = {"qualify": 10, "propose": 30, "negotiate": 60, "commit": 80}
DEAL_TERMINAL_STAGES = {"won": 100, "lost": 0}

# The value None means "no default; a string (or list where noted) may be given".
DEFAULTS: dict[str, Any] = {
    "db": None,
    "db_key_file": None,
    "timezone": None,
    "owner": None,
    "currency": "USD",
    "pipeline": list(DEFAULT_PIPELINE),
    "won_stages": ["won"],
    "lost_stages": ["lost"],
    "output": {"format": "table"},
    "due": {"within": "7d", "stale": True},
    "cadence": {"default_ideal": None, "default_max": None, "rules": []},
    "lifecycle": {"at_risk_days": 90, "churned_days": 180, "gap_factor": 2.0},
    "retention": {"activity": "deals", "period": "quarter"},
    "clv": {"margin": 1.0, "lifetime_cap_years": 10.0, "horizon_months": 12,
            "discount_monthly": 0.01,
            "time_unit": "weeks"},
    "response": {"sla_hours": 24.0, "no_reply_kinds": ["feedback"],
                 "no_reply_channels": ["meeting"], "reply_to_scores": False},
    "tiers": {"a_share": 0.8, "b_share": 0.95},
    "invoices": {"terms_days": 30, "remind_days": [1, 7, 30]},
    "revenue": {"source": "deals"},
    "deals": {"stages": dict(DEFAULT_DEAL_STAGES), "commit_probability": 80,
              "best_probability": 50},
    "smtp": {
        "host": None,
        "port": 587,
        "security": "starttls",
        "username": None,
        "password_env": None,
        "from": None,
        "to": [],
        "owners": {},
        "subject": "crm: {overdue} overdue, {today} due today, {upcoming} upcoming — {date}",
        "timeout": 30,
        "html": True,
    },
    "sendmail": {"command": "sendmail -t -oi"},
    "hooks": {"paths": [], "timeout": 10},
    "fields": {"clients": {}, "contacts": {}, "deals": {}},
}

# Keys whose value is a free-form mapping (their sub-keys are data, not settings).
FREE_MAPPINGS = {"smtp.owners", "fields.clients", "fields.contacts", "fields.deals",
                 "deals.stages"}
FIELD_KEYS = {"type", "values", "required"}
CADENCE_RULE_KEYS = {"tag", "stage", "tier", "ideal", "max"}
CHOICES = {
    "retention.activity": {"deals", "interactions", "any"},
    "retention.period": {"month", "quarter", "year"},
    "smtp.security": {"starttls", "tls", "none"},
    "output.format": set(FORMATS),
    "clv.time_unit": {"days", "weeks", "months"},
    "revenue.source": {"deals", "payments"},
}




@dataclass
class Config:
    data: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    path: Path | None = None

    def __getitem__(self, key: str) -> Any:
        """The value of a key, dotted for a nested one (`config["smtp.port"]`). Every key has
        a value (its DEFAULTS entry unless the file sets it), so callers never restate a
        default; an unknown key is a KeyError, a typo in the code."""
        node: Any = self.data
        for part in key.split("."):
            node = node[part]
        return node

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def pipeline(self) -> list[str]:
        return list(self.data["pipeline"])


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_config_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "crmcli" / "config.yaml"


def default_db_path() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "crmcli" / "crm.db"


def resolve_config_path(option: str | os.PathLike | None) -> tuple[Path, bool]:
    """The config path and whether the user named it (a named file must exist)."""
    if option:
        return Path(option).expanduser(), True
    env = os.environ.get("CRM_CONFIG")
    if env:
        return Path(env).expanduser(), True
    return default_config_path(), False


SERVER_URL_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(value: object) -> bool:
    """Whether a --db/CRM_DB/db: value names a book on a database server, not a file."""
    return isinstance(value, str) and value.startswith(SERVER_URL_SCHEMES)


def shown_book(value: Path | str) -> str:
    """The book as messages show it: a server's URL without its password."""
    if not is_server_url(value):
        return str(value)
    import re
    from urllib.parse import urlsplit

    password = urlsplit(value).password
    if password is not None:
        value = value.replace(f":{password}@", ":***@", 1)
    return re.sub(r"(?<=[?&])password=[^&]*", "password=***", value)


def resolve_db_path(option: str | os.PathLike | None, config: Config) -> Path | str:
    """The book: a file's Path, or a server's URL (str) kept as written."""
    for value in (option, os.environ.get("CRM_DB"), config["db"]):
        if value and is_server_url(str(value)):
            return str(value)
        if value:
            break
    if option:
        return Path(option).expanduser()
    env = os.environ.get("CRM_DB")
    if env:
        return Path(env).expanduser()
    if config["db"]:
        path = Path(str(config["db"])).expanduser()
        if not path.is_absolute() and config.path is not None:
            path = config.path.parent / path
        return path
    return default_db_path()


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "text",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _check_value(where: str, key: str, default: Any, value: Any) -> Any:
    if value is None:  # null means the default
        return copy.deepcopy(default)
    # A misplaced secret must not be echoed back in the error.
    shown = "(value hidden)" if key.startswith("smtp.password") else repr(value)
    if key in CHOICES and value not in CHOICES[key]:
        choices = ", ".join(sorted(CHOICES[key]))
        raise ConfigError(f"{where}: key '{key}' must be one of {choices}, not {shown}")
    if default is None:
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{where}: key '{key}' must be text, not {shown}")
        return str(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: key '{key}' must be true or false, not {shown}")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: key '{key}' must be a number, not {shown}")
        if value < 0:
            raise ConfigError(f"{where}: key '{key}' must not be negative, not {shown}")
        return value
    if isinstance(default, list):
        if isinstance(value, str) and key == "smtp.to":
            return [value]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: key '{key}' must be a list, not {shown}")
        return value
    if isinstance(default, str):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}: key '{key}' must be text, not {shown}")
        return str(value) if str(value).strip() else default  # blank text: the default
    if isinstance(default, dict) and not isinstance(value, dict):
        raise ConfigError(f"{where}: key '{key}' must be {_type_name(default)}, not {shown}")
    return value


def _merge(where: str, prefix: str, defaults: dict, given: dict) -> dict:
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        dotted = f"{prefix}{key}"
        if key not in defaults:
            raise ConfigError(f"{where}: unknown key '{dotted}'")
        default = defaults[key]
        if isinstance(default, dict) and dotted not in FREE_MAPPINGS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: key '{dotted}' must be a mapping, not {value!r}")
            merged[key] = _merge(where, f"{dotted}.", default, value)
        else:
            merged[key] = _check_value(where, dotted, default, value)
    return merged


def _check_cadence_rules(where: str, rules: list) -> None:
    for i, rule in enumerate(rules, 1):
        if not isinstance(rule, dict):
            raise ConfigError(f"{where}: cadence.rules[{i}] must be a mapping, not {rule!r}")
        unknown = set(rule) - CADENCE_RULE_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key 'cadence.rules[{i}].{sorted(unknown)[0]}'")
        if sum(k in rule for k in ("tag", "stage", "tier")) != 1:
            raise ConfigError(f"{where}: cadence.rules[{i}] needs exactly one of tag, stage, tier")
        if "ideal" not in rule:
            raise ConfigError(f"{where}: cadence.rules[{i}] needs an 'ideal' interval such as 2w")


def _check_invoices(where: str, invoices: dict) -> None:
    terms = invoices["terms_days"]
    if terms != int(terms):
        raise ConfigError(f"{where}: key 'invoices.terms_days' must be a whole number of days, "
                          f"not {terms!r}")
    steps = invoices["remind_days"]
    if not all(type(d) is int and d >= 1 for d in steps) or len(set(steps)) != len(steps):
        raise ConfigError(f"{where}: key 'invoices.remind_days' must list different whole "
                          f"numbers of days from 1 up, not {steps!r}")
    invoices["terms_days"] = int(terms)
    invoices["remind_days"] = sorted(steps)


def _check_deal_stages(where: str, deals: dict) -> None:
    stages = deals["stages"]
    if not stages:
        raise ConfigError(f"{where}: key 'deals.stages' must map at least one stage name to "
                          "its probability, e.g. {qualify: 10, commit: 80}")
    seen: set[str] = set()
    for name, probability in stages.items():
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ConfigError(f"{where}: key 'deals.stages' names {name!r}, which is not a "
                              "stage name")
        if name.lower() in DEAL_TERMINAL_STAGES:
            raise ConfigError(f"{where}: key 'deals.stages' names '{name}': won and lost are "
                              "the terminal stages of every deal, not configured")
        if name.lower() in seen:
            raise ConfigError(f"{where}: key 'deals.stages' lists '{name}' twice")
        seen.add(name.lower())
        if (isinstance(probability, bool) or not isinstance(probability, int)
                or not 0 <= probability <= 100):
            raise ConfigError(f"{where}: key 'deals.stages' gives '{name}' the probability "
                              f"{probability!r}: a whole percent from 0 to 100")
    for key in ("commit_probability", "best_probability"):
        if deals[key] > 100:
            raise ConfigError(f"{where}: key 'deals.{key}' must be a percent from 0 to 100, "
                              f"not {deals[key]!r}")


def _check_reply_rule(where: str, response: dict) -> None:
    for key in ("no_reply_kinds", "no_reply_channels"):
        for value in response[key]:
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}: key 'response.{key}' must list names, not "
                                  f"{value!r}")
    if response["no_reply_channels"] == DEFAULTS["response"]["no_reply_channels"]:
        return  # (the store package is heavy to import at start-up)
    from crmcli.store.validate import CHANNELS

    for channel in response["no_reply_channels"]:
        if channel.strip().lower() not in CHANNELS:
            raise ConfigError(f"{where}: key 'response.no_reply_channels' names '{channel}', "
                              f"which is not a channel ({', '.join(CHANNELS)})")


def _check_hooks(where: str, hooks: dict) -> None:
    if not hooks["timeout"] > 0:
        raise ConfigError(f"{where}: key 'hooks.timeout' must be more than 0 seconds, not "
                          f"{hooks['timeout']!r}")
    for value in hooks["paths"]:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: key 'hooks.paths' must list folders or files, not "
                              f"{value!r}")


def _check_fields(where: str, fields: dict) -> None:
    """Declared custom fields: fields.KIND.NAME is a type name or {type, values (a choice's),
    required}; normalised in place to the mapping."""
    if not any(fields.values()):
        return  # (the store package is heavy to import at start-up)
    from crmcli.errors import ValidationError
    from crmcli.store.validate import FIELD_TYPES, custom_key

    builtin = _builtin_columns()
    for kind, declared in fields.items():
        if not isinstance(declared, dict):
            raise ConfigError(f"{where}: key 'fields.{kind}' must be a mapping of field names "
                              f"to types, not {declared!r}")
        for name, spec in list(declared.items()):
            at = f"fields.{kind}.{name}"
            try:
                custom_key(str(name))
            except ValidationError as exc:
                raise ConfigError(f"{where}: key '{at}': {exc.reason}") from None
            if str(name) in builtin[kind] or str(name).startswith("custom."):
                raise ConfigError(f"{where}: key '{at}': {name} is a built-in field of {kind}; "
                                  "name the custom field otherwise")
            if isinstance(spec, str):
                spec = {"type": spec}
            if not isinstance(spec, dict):
                raise ConfigError(f"{where}: key '{at}' must be a type name or a mapping with "
                                  f"type, values and required, not {spec!r}")
            unknown = set(spec) - FIELD_KEYS
            if unknown:
                raise ConfigError(f"{where}: unknown key '{at}.{sorted(unknown)[0]}'")
            kind_ = spec.get("type")
            if kind_ not in FIELD_TYPES:
                raise ConfigError(f"{where}: key '{at}.type' must be one of "
                                  f"{', '.join(FIELD_TYPES)}, not {kind_!r}")
            values = spec.get("values")
            if kind_ == "choice":
                if (not isinstance(values, list) or not values
                        or not all(isinstance(v, str | int | float) and not isinstance(v, bool)
                                   and str(v).strip() for v in values)):
                    raise ConfigError(f"{where}: key '{at}.values' must list the choices, "
                                      f"not {values!r}")
                values = [str(v).strip() for v in values]
                if len({v.casefold() for v in values}) != len(values):
                    raise ConfigError(f"{where}: key '{at}.values' lists a choice twice")
            elif values is not None:
                raise ConfigError(f"{where}: key '{at}.values' is for a choice, not a {kind_}")
            required = spec.get("required", False)
            if not isinstance(required, bool):
                raise ConfigError(f"{where}: key '{at}.required' must be true or false, not "
                                  f"{required!r}")
            declared[name] = {"type": kind_, "values": values or [], "required": required}
        fields[kind] = {str(k): v for k, v in declared.items()}


def _builtin_columns() -> dict[str, set[str]]:
    from crmcli.store.bulk import EXPORT_COLUMNS
    from crmcli.store.clients import CLIENT_RECORD

    names = {kind: set(EXPORT_COLUMNS[kind]) for kind in ("contacts", "deals")}
    names["clients"] = set(CLIENT_RECORD)
    for kind in names:
        names[kind] |= {"client", "tags", "custom"}
    return names


def parse_config_text(text: str, where: str) -> Config:
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}:{at}: malformed YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the config must be a mapping of keys to values")
    data = _merge(where, "", DEFAULTS, raw)
    pipeline = data["pipeline"]
    if not pipeline or not all(isinstance(s, str) and s.strip() for s in pipeline):
        raise ConfigError(f"{where}: key 'pipeline' must be a non-empty list of stage names")
    if len(set(pipeline)) != len(pipeline):
        raise ConfigError(f"{where}: key 'pipeline' lists a stage twice")
    for key in ("won_stages", "lost_stages"):
        for stage in data[key]:
            if stage not in pipeline:
                raise ConfigError(f"{where}: key '{key}' names '{stage}', which is not in the "
                                  "pipeline")
    _check_cadence_rules(where, data["cadence"]["rules"])
    _check_invoices(where, data["invoices"])
    _check_hooks(where, data["hooks"])
    _check_deal_stages(where, data["deals"])
    _check_reply_rule(where, data["response"])
    _check_fields(where, data["fields"])
    return Config(data=data)


def load_config(option: str | os.PathLike | None = None) -> Config:
    path, named = resolve_config_path(option)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a config file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        if named:
            raise ConfigError(f"{path}: config file not found") from None
        return Config(path=None)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    config = parse_config_text(text, str(path))
    config.path = path
    return config


def example_config_text() -> str:
    return resources.files("crmcli").joinpath("config.example.yaml").read_text(encoding="utf-8")
