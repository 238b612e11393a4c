"""`python -m vigil.runtime.healthcheck HOST:PORT [SERVICE]`: exit 0 when the gRPC health service reports
SERVING (compose healthchecks; Kubernetes uses its native grpc probe)."""

import asyncio
import sys

from vigil.runtime.grpcio import wait_serving


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m vigil.runtime.healthcheck HOST:PORT [SERVICE]")
    try:
        asyncio.run(wait_serving(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "", timeout=3.0))
    except TimeoutError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
