# syntax=docker/dockerfile:1
# The sample legacy monolith (legacy-php/) as compose runs it: Debian's PHP with the MySQL and
# SQLite PDO drivers from packages, so nothing is compiled. `php -S` stands in for Apache.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends php-cli php-mysql php-sqlite3 tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY legacy-php legacy-php
USER www-data
ENV PHP_CLI_SERVER_WORKERS=4
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["php", "-r", "exit(@file_get_contents('http://127.0.0.1:8080/api/health.php') === false ? 1 : 0);"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["sh", "-c", "php legacy-php/seed.php && exec php -S 0.0.0.0:8080 -t legacy-php/public legacy-php/public/router.php"]
