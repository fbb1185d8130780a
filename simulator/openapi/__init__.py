"""The Genesys contract: the OpenAPI subset (genesys-openapi-subset.json, reconstructed from the
official Python SDK; its `_source` says how) and a checker of requests and responses against it
(contract.py). Tests hold both the portal's client and the simulator to it."""
