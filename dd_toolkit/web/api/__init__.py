"""The read-only JSON API for regulators' own systems (``/api/v1``), authenticated with API
tokens that a regulator creates and revokes on ``/api/tokens``. Described by the OpenAPI
document at ``/api/v1/openapi.json``."""
