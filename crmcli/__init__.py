"""crmcli: a customer-relationship manager for the terminal, on one SQLite file."""

__version__ = "0.1.0"
