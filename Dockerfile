# dealreg service image: one image, the command chooses the service (`serve registration`, …).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY dealreg ./dealreg
COPY services ./services
COPY events ./events
COPY projections ./projections
RUN pip install . && useradd --create-home --uid 10001 dealreg

USER dealreg
ENV DEALREG_DATA_DIR=/home/dealreg/data
ENTRYPOINT ["dealreg"]
CMD ["--help"]
