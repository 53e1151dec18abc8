# The Djinn application image: bots, CLI and (later) the admin web and action server.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJINN_DATA_DIR=/var/lib/djinn
RUN apt-get update && apt-get install -y --no-install-recommends gcc libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY bots bots
COPY nlu nlu
COPY knowledge_base knowledge_base
COPY handoff handoff
COPY admin admin
COPY tools tools
COPY migrations migrations
COPY alembic.ini ./
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/djinn djinn \
    && mkdir -p /var/lib/djinn && chown djinn /var/lib/djinn
USER djinn
ENTRYPOINT ["djinn"]
CMD ["run"]
