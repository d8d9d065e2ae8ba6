# fly-placer in a small image: built with the Rust toolchain, run on a
# distroless base (glibc and certificates, no shell, non-root user).
#
#   docker build -t fly-placer .
#   docker run -p 8000:8000 -e PLACER_TRIGGER_TOKEN=change-me fly-placer
#
# The container listens on all interfaces, so POST /trigger needs the bearer
# token; set FLY_API_TOKEN, FLY_PROMETHEUS_URL and PLACER_APP (or
# FLY_APP_NAME) for a real app.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p placer-cli --bin fly-placer \
    && mkdir -p /out/data \
    && cp target/release/fly-placer /out/fly-placer

FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=build /out/fly-placer /usr/local/bin/fly-placer
COPY config/config.yml /app/config/config.yml
COPY --from=build --chown=nonroot:nonroot /out/data /data
# Two malloc arenas, and blocks of 128 KiB and more (a tick's traffic
# answers, a scrape) given back when freed: with 10,000 apps glibc's
# defaults kept 10–20 % more memory for the same work (BENCHMARKS.md).
ENV PLACER_LISTEN="[::]:8000" \
    PLACER_DATA_DIR="/data" \
    PLACER_LOG_FORMAT="json" \
    MALLOC_ARENA_MAX="2" \
    MALLOC_MMAP_THRESHOLD_="131072"
EXPOSE 8000
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/fly-placer"]
CMD ["serve"]
