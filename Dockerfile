# syntax=docker/dockerfile:1
# shelflife's image: built with the Rust toolchain, run from a distroless base (glibc, CA
# certificates, no shell, no package manager) as the non-root user 65532.
#   docker build -t shelflife .
#   docker run --rm -e DATABASE_URL=... -v $PWD/policies:/etc/shelflife/policies:ro shelflife validate

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches make rebuilds incremental; the binary is copied out of them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin shelflife \
 && cp target/release/shelflife /usr/local/bin/shelflife

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/shelflife /usr/local/bin/shelflife
ENV SHELFLIFE_POLICIES=/etc/shelflife/policies \
    SHELFLIFE_LOG_FORMAT=json
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/shelflife"]
CMD ["run", "--due"]
