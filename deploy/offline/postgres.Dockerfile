# prospector-base/postgres:15: the stand-in for postgres:16-alpine, Debian's PostgreSQL 15. Its
# entrypoint (postgres-entrypoint.sh) creates the cluster, the user and the database from
# POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB on an empty data directory, as the official
# image does, then runs the server in the foreground.
ARG DEBIAN_IMAGE=prospector-base/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
USER postgres
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["postgres-entrypoint"]
CMD ["postgres"]
