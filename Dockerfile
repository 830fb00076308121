# soar: one static binary serving the CLI, the worker, the API and the
# built-in plugins (which it re-executes as plugin processes).
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/soar ./cmd/soar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/soar /usr/local/bin/soar
# Example playbooks, data and plugin config, so the image runs out of the
# box; mount your own over /etc/soar in production.
COPY --chown=nonroot:nonroot examples /etc/soar/examples
COPY --chown=nonroot:nonroot plugins/geoip/testdata /etc/soar/plugins/geoip/testdata
WORKDIR /etc/soar
USER nonroot
ENTRYPOINT ["/usr/local/bin/soar"]
CMD ["serve", "--worker"]
