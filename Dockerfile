# The trainer image for Kubernetes (deploy/kubernetes/): the capa binary,
# built without cgo (OpenBLAS is loaded at run time), on Debian with
# OpenBLAS and Fashion-MNIST from its archive.
#
#   docker build -t capa:latest .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /capa ./cmd/capa

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas0-pthread dataset-fashion-mnist \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /capa /usr/local/bin/capa
COPY experiments/*.json /experiments/
ENTRYPOINT ["capa"]
