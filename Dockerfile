# flysim as a static binary in a small image, for batch schedulers (cluster/kubernetes).
#   docker build -t flysim .
#   docker run --rm -v "$PWD:/work" -w /work flysim run scenarios/quickstart.toml -o output/q
# The build stage compiles against musl on Alpine, so the binary depends on no C library; the
# final stage is busybox, for the shell the Kubernetes recipes use to number shards.
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin flysim && strip target/release/flysim

FROM busybox:musl
COPY --from=build /src/target/release/flysim /flysim
ENTRYPOINT ["/flysim"]
