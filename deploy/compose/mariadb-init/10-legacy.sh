# Sourced by the mariadb image's entrypoint on its first start (empty volume): the legacy
# monolith's own database and user, apart from the idp's (MARIADB_DATABASE / MARIADB_USER).
# The names are the monolith's choice, so they come from the environment (docker-compose.yml).
docker_process_sql <<SQL
CREATE DATABASE IF NOT EXISTS \`${LEGACY_DB_NAME:?}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${LEGACY_DB_USER:?}'@'%' IDENTIFIED BY '${LEGACY_DB_PASSWORD:?}';
GRANT ALL PRIVILEGES ON \`${LEGACY_DB_NAME}\`.* TO '${LEGACY_DB_USER}'@'%';
SQL
