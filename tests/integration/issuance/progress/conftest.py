from tests.integration.issuance.progress.app_fixtures import (  # noqa: F401 - fixtures
    committed_session,
    progress_client,
)
