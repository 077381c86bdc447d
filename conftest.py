# Shared by tests/ and hil_tests/: one session broker for the whole run, named in the header.
from tests.brokerfixture import broker, describe_broker  # noqa: F401


def pytest_report_header(config):
    return describe_broker()
