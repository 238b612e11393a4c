# syntax=docker/dockerfile:1
# The one Vigil image: every process runs from it (see docker-compose.yml and charts/vigil).
#   python -m services.<incident|itsm|cmdb|observability|ai>   gRPC services, ports 50051-50055
#   python -m gateway                                          HTTP gateway, ports 8080 (tenant) and 8081 (control)
#   vigil migrate <service>                                    schema migrations, then exit
#   python -m vigil.runtime.healthcheck HOST:PORT              exit 0 when the gRPC health service is SERVING

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# README.md* : pyproject names a readme; the glob keeps the build working while it is absent.
COPY pyproject.toml README.md* ./
COPY vigil ./vigil
COPY services ./services
COPY gateway ./gateway
RUN python -m venv /opt/vigil && /opt/vigil/bin/pip install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/vigil/bin:$PATH \
    VIGIL_DATA_DIR=/var/lib/vigil \
    VIGIL_LOG_JSON=true
RUN groupadd --system --gid 10001 vigil \
    && useradd --system --uid 10001 --gid vigil --home-dir /var/lib/vigil --create-home --shell /usr/sbin/nologin vigil
COPY --from=build /opt/vigil /opt/vigil
USER 10001:10001
WORKDIR /var/lib/vigil
EXPOSE 50051 50052 50053 50054 50055 8080 8081
# No default process: compose and the chart name one (see the header).
CMD ["vigil", "--help"]
