# The TLS broker is used by the gateway tests only; the plain one comes from the root conftest.
from tests.brokerfixture import tls_broker  # noqa: F401
from tests.gateway.test_service import make_rig  # noqa: F401  (test_commands uses it too)
