"""The issuance zone's staff console: server-rendered pages over the API's own services."""
