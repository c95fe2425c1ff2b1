# syntax=docker/dockerfile:1
# One image for every Crier process. It runs the API by default; docker-compose.yml gives the worker, the
# scheduler and the one-shot `crier db upgrade` their own commands. No HEALTHCHECK here: the four
# processes are checked four different ways, so each compose service declares its own.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRIER_DATA_DIR=/app/var

RUN useradd --system --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin crier

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so a change to the code does not reinstall them;
# pinned by constraints.txt to the versions the test suite last passed with.
# README.md* rather than README.md: a wildcard that matches nothing does not fail the build.
COPY pyproject.toml constraints.txt README.md* ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir --constraint constraints.txt --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY shared ./shared
COPY services ./services
# The data directory is the crier user's alone; Crier makes what it writes inside it 0600 and 0700.
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info \
    && mkdir -p "$CRIER_DATA_DIR/prometheus" \
    && chown crier:crier "$CRIER_DATA_DIR" "$CRIER_DATA_DIR/prometheus" \
    && chmod 0700 "$CRIER_DATA_DIR" "$CRIER_DATA_DIR/prometheus"

USER crier

EXPOSE 8000
# The same server `crier up` runs, listening on every interface of the container.
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "8", \
     "--access-logfile", "-", "services.api.app:create_app()"]
