# One image for every StockAgent process; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN useradd --create-home stockagent && mkdir -p /app/var && chown -R stockagent /app/var
USER stockagent
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "stockagent.asgi:application"]
