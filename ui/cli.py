"""``dossier ui``: serve the station in a browser; ``--add-user`` makes operator accounts."""

from __future__ import annotations

import os
from pathlib import Path

import click

from dossier_station.core.errors import BadArgsError

PASSWORD_ENV = "DOSSIER_UI_PASSWORD"


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; anything but loopback needs accounts.")
@click.option("--port", type=int, default=8750, show_default=True)
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML): scanner presets, build options.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None, help="The UI's data folder (batches, accounts); default $DOSSIER_UI_DATA or ~/.local/share/dossier-station/ui.")
@click.option("--demo", is_flag=True, help="Load the virtual scanner (SANE pnm) with the sample pages.")
@click.option("--add-user", "add_user", default=None, metavar="NAME", help=f"Create or reset an operator account (password from ${PASSWORD_ENV} or a prompt), then exit.")
@click.option("--role", type=click.Choice(["clerk", "officer", "supervisor"]), default=None, help="Role of --add-user.")
def ui(host: str, port: int, profile_path: str | None, data_dir: Path | None, demo: bool, add_user: str | None, role: str | None) -> None:
    """Serve the station's web UI: scan, check (质检), catalogue (编目), build."""
    from dossier_station.ui.accounts import Accounts
    from dossier_station.ui.store import default_data_dir

    data = (data_dir or default_data_dir()).resolve()
    data.mkdir(parents=True, exist_ok=True)
    if add_user:
        if not role:
            raise BadArgsError("--add-user needs --role", hint="--role clerk, officer or supervisor")
        password = os.environ.get(PASSWORD_ENV) or click.prompt(f"password for {add_user}", hide_input=True, confirmation_prompt=True)
        Accounts(data).add(add_user, role, password)
        click.echo(f"account {add_user} ({role}) saved in {data / 'users.json'}")
        return
    import uvicorn

    from dossier_station.ui.app import UiConfig, create_app

    app = create_app(UiConfig(data_dir=data, host=host, port=port, profile=profile_path, demo=demo))
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"dossier station UI: open http://{shown}:{port}/  (data: {data}; Ctrl-C stops)")
    from dossier_station.core.profile import load_profile
    from dossier_station.station.custody import AnchorTimer

    with AnchorTimer(load_profile(profile_path)):  # custody: journal anchored at least daily, mirror copies retried
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)


COMMANDS = [ui]
