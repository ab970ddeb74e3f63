# Reelay: bot + polling engine + HTTP in one image.
#   docker build -t reelay .
#   docker run --rm -v $PWD/config.toml:/etc/reelay/config.toml:ro -p 8080:8080 reelay
FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv
WORKDIR /app
# Dependencies first (cached while only our code changes), from the lock file.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY bot ./bot
COPY console ./console
COPY metrics ./metrics
COPY outbound ./outbound
COPY poller ./poller
COPY providers ./providers
COPY storage ./storage
COPY webhooks ./webhooks
RUN uv sync --frozen --no-dev

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 reelay
WORKDIR /app
COPY --from=build --chown=reelay:reelay /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 \
    REELAY_HTTP__HOST=0.0.0.0 REELAY_LOG__FORMAT=json
USER reelay
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3)" || exit 1
# SIGTERM (docker stop) lets running steps finish and closes connections cleanly.
STOPSIGNAL SIGTERM
ENTRYPOINT ["reelay"]
CMD ["run", "--config", "/etc/reelay/config.toml"]
