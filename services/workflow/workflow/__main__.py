"""``python -m workflow``: serve the workflow service."""

from eventkit.serve import serve
from workflow.bootstrap import create_app
from workflow.settings import WorkflowSettings

if __name__ == "__main__":
    serve(WorkflowSettings(), create_app)
