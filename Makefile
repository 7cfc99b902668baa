# One target per habit. Every tool is pinned in go.mod (go tool ...), so a
# fresh clone needs only Go and PostgreSQL's server binaries.
GO ?= go
DATABASE_URL ?= postgres://postgres@localhost:5432/evento

.PHONY: run test generate check-generated migrate lint fmt build

run: ## the brief's experiment (a throwaway PostgreSQL when none is running)
	$(GO) run ./cmd/evento --clients 200 --strategy pessimistic --rooms 200 --servers 2

test: ## every test, against real PostgreSQL, with the race detector
	$(GO) test -race -count=1 ./...

generate: ## regenerate db/ from queries/ and sql/
	$(GO) tool sqlc generate

check-generated: generate ## fail when committed generated code is stale
	git diff --exit-code -- db/
	@test -z "$$(git status --porcelain -- db/)" || (git status --porcelain -- db/; exit 1)

migrate: ## goose's own CLI against DATABASE_URL
	$(GO) tool goose -dir sql postgres "$(DATABASE_URL)" up

lint: ## formatting and vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

build:
	$(GO) build -o bin/evento ./cmd/evento
