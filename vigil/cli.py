"""The `vigil` command.

    vigil up                 start everything on one machine (embedded defaults) until Ctrl-C
    vigil migrate SERVICE    apply a service's schema migrations (incident, itsm, cmdb, observability, ai,
                             gateway, or all) and exit: the Helm pre-install/upgrade hook runs this
    vigil kafka fetch|start  the local Apache Kafka broker (see vigil.runtime.kafka_local)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from vigil.runtime.config import SERVICES


def _operator_password(data_dir: Path) -> str:
    path = data_dir / "operator-password"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password)
    path.chmod(0o600)
    return password


def up(args: argparse.Namespace) -> int:
    from vigil.stack import Stack

    data_dir = Path(os.environ.get("VIGIL_DATA_DIR", ".vigil")).resolve()
    env: dict[str, str] = {}
    if not os.environ.get("VIGIL_OPERATOR_PASSWORD"):
        env["VIGIL_OPERATOR_PASSWORD"] = _operator_password(data_dir)
    stack = Stack(data_dir=data_dir, env=env)
    started = time.perf_counter()
    try:
        if os.environ.get("VIGIL_KAFKA_BOOTSTRAP"):
            print(f"kafka: using {os.environ['VIGIL_KAFKA_BOOTSTRAP']}", flush=True)
        else:
            print("kafka: starting a local broker (KRaft; jars fetched once from Maven Central)...", flush=True)
            stack.env["VIGIL_KAFKA_BOOTSTRAP"] = stack.start_kafka()
            print(f"kafka: {stack.env['VIGIL_KAFKA_BOOTSTRAP']}", flush=True)
        db = os.environ.get("VIGIL_DATABASE_URL") or f"SQLite files in {data_dir}"
        print(f"state: {db}", flush=True)
        stack.start()
    except BaseException as exc:
        stack.stop()
        if isinstance(exc, KeyboardInterrupt):
            return 130
        print(f"vigil up failed: {exc}", file=sys.stderr)
        return 1
    operator = os.environ.get("VIGIL_OPERATOR_EMAIL", "operator@vigil.local")
    print(f"""
Vigil is up ({time.perf_counter() - started:.1f}s). Logs: {data_dir / 'logs'}
  tenant plane   http://127.0.0.1:{stack.ports['tenant']}/api
  control plane  http://127.0.0.1:{stack.ports['control']}/api   operator: {operator} / {env.get('VIGIL_OPERATOR_PASSWORD', '(VIGIL_OPERATOR_PASSWORD)')}
  services       {', '.join(f"{n} :{stack.ports[n]}" for n in SERVICES)}
Press Ctrl-C to stop.""", flush=True)
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    while not stopping:
        try:
            stack.check_alive()
        except RuntimeError as exc:
            print(f"\n{exc}", file=sys.stderr)
            code = 1
            break
        time.sleep(0.5)
    print("\nstopping...", flush=True)
    stack.stop()
    print("stopped.", flush=True)
    return code


def migrate(args: argparse.Namespace) -> int:
    import importlib

    from vigil.runtime.db import Database

    targets = [*SERVICES, "gateway"] if args.service == "all" else [args.service]

    async def run() -> None:
        for name in targets:
            if name == "gateway":
                from gateway.app import MIGRATIONS
                from gateway.config import GatewaySettings

                url = GatewaySettings().database_url_for_gateway()
            else:
                server = importlib.import_module(f"services.{name}.server")
                MIGRATIONS = server.MIGRATIONS  # noqa: N806
                url = server.SETTINGS().database_url_for(name)
            db = Database(url, name)
            try:
                await db.migrate(MIGRATIONS, args.to)
            finally:
                await db.dispose()
            if name == "observability":  # its telemetry schema lives in ClickHouse
                applied = await server.migrate_clickhouse(server.SETTINGS())
                print(f"observability: ClickHouse migrations applied: {applied or 'none new'}")
            print(f"{name}: migrated to {args.to}")

    asyncio.run(run())
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vigil", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start everything on one machine until Ctrl-C")
    m = sub.add_parser("migrate", help="apply schema migrations and exit")
    m.add_argument("service", choices=[*SERVICES, "gateway", "all"])
    m.add_argument("--to", default="head", help="target revision (default head; e.g. 0001 or base to go back)")
    k = sub.add_parser("kafka", help="the local Kafka broker")
    k.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "up":
        sys.exit(up(args))
    if args.command == "migrate":
        sys.exit(migrate(args))
    if args.command == "kafka":
        from vigil.runtime import kafka_local

        kafka_local.main(args.rest)


if __name__ == "__main__":
    main()
