"""``python -m registry_sync``: serve the registry-sync service."""

from eventkit.serve import serve
from registry_sync.bootstrap import create_app
from registry_sync.settings import RegistrySyncSettings

if __name__ == "__main__":
    serve(RegistrySyncSettings(), create_app)
