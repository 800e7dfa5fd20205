"""The whole stack on one machine: `prospector up` and `prospector status`.

    compose.py    reads docker-compose.yml: each service's command, with ${VAR:-default}
    launcher.py   runs those commands as local processes (plus a Redis), supervises
                  them, and stops every one of them on Ctrl-C
    status.py     asks each service how it is: health, trainer SPS and window,
                  evaluator queue lag, API sessions; one table or JSON
    cli.py        the two subcommands' arguments and entry points

docker-compose.yml is the single source of the services' commands: the
launcher never spells one out itself.
"""
