"""``python -m reporting``: serve the reporting service."""

from eventkit.serve import serve
from reporting.bootstrap import create_app
from reporting.settings import ReportingSettings

if __name__ == "__main__":
    serve(ReportingSettings(), create_app)
