"""Users: `webapp users add | remove | list | hash` (password accounts), `--user NAME` (the
owner a command acts for) and `webapp delete-data` (everything of one user)."""

from __future__ import annotations

import sys


def cmd_users(settings, args) -> int:
    """On the settings alone: the account store, without the models or the storage lock."""
    from webapp.services import Services

    users = Services(settings).users
    if args.users_command == "list":
        for name in users.names():
            print(name)
        return 0
    if args.users_command == "remove":
        users.remove(args.name)
        print(f"removed user {args.name} (their data stays until `webapp delete-data --user`)")
        return 0
    password = _read_password(args.name)
    if password is None:
        print("error: the passwords differ", file=sys.stderr)
        return 2
    if args.users_command == "hash":
        from webapp.users import check_name, check_password, hash_password

        check_password(password)
        print(f"{check_name(args.name)}:{hash_password(password)}")
        return 0
    new = users.add(args.name, password)
    print(f"{'added' if new else 'changed the password of'} user {args.name}")
    return 0


def _read_password(name: str) -> str | None:
    """Asked twice on a terminal (None if they differ), else the first line of stdin."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"Password for {name}: ")
    return password if getpass.getpass("Again: ") == password else None


def cli_owner(services, name: str | None) -> str:
    """The owner the command acts for: --user NAME in the configured sign-in mode."""
    from webapp.users import UserError, check_name, owner_for

    settings = services.settings
    if name is None:
        return settings.local_user
    if settings.auth == "anonymous":
        raise UserError("Anonymous workspaces have no names; --user needs another sign-in mode.")
    check_name(name)
    if settings.auth == "password" and name not in services.users.names():
        raise UserError(f"There is no user '{name}' (see `webapp users list`).")
    return owner_for(settings.auth, name, settings.local_user)


def cmd_delete_data(services, args) -> int:
    if not args.yes:
        print(
            "error: this deletes every document, adapter, question set, evaluation run and "
            "answer rating of the user; add --yes to confirm",
            file=sys.stderr,
        )
        return 2
    removed = services.accounts.delete(args.owner)
    print("deleted " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in removed.items()))
    return 0
