"""Holding test traffic to the Genesys contract (simulator/openapi): a transport observer that
checks every exchange with the simulator and fails the test that made a non-conforming one."""

from __future__ import annotations

import pytest

from simulator.openapi.contract import genesys_contract


class ContractWatch:
    """Checks each request (optionally) and each answer against the OpenAPI subset."""

    def __init__(self, *, check_requests: bool) -> None:
        self.check_requests = check_requests
        self.problems: list[str] = []
        self.exchanges = 0

    def __call__(self, request, response) -> None:
        self.exchanges += 1
        self.problems += genesys_contract().exchange_problems(
            request, response, check_request=self.check_requests
        )

    def assert_clean(self) -> None:
        if self.problems:
            shown = "\n  ".join(dict.fromkeys(self.problems))
            pytest.fail(f"Traffic that breaks the Genesys contract:\n  {shown}", pytrace=False)
