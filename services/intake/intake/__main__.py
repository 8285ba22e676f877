"""``python -m intake``: serve the intake service."""

from eventkit.serve import serve
from intake.bootstrap import create_app
from intake.settings import IntakeSettings

if __name__ == "__main__":
    settings = IntakeSettings()
    serve(settings, lambda _: create_app(settings))
