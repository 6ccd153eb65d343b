# The images for Kubernetes (deploy/kubernetes/): the capa binary, built
# without cgo (OpenBLAS and Open MPI are loaded at run time), on Debian
# with OpenBLAS and Fashion-MNIST from its archive.
#
#   docker build -t capa:latest .                      # the sweep (sweep-job.yaml)
#   docker build --target mpi -t capa-mpi:latest .     # data-parallel training (mpijob.yaml)
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /capa ./cmd/capa

# With Open MPI and the SSH the MPIJob launcher reaches the workers by.
FROM debian:bookworm-slim AS mpi
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas0-pthread dataset-fashion-mnist \
        openmpi-bin libopenmpi3 openssh-server openssh-client \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /run/sshd
COPY --from=build /capa /usr/local/bin/capa

FROM debian:bookworm-slim AS capa
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas0-pthread dataset-fashion-mnist \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /capa /usr/local/bin/capa
COPY experiments/*.json /experiments/
ENTRYPOINT ["capa"]
