# One target per habit. Every tool is pinned in go.mod (go tool ...), so a
# fresh clone needs only Go and PostgreSQL's server binaries.
GO ?= go
DATABASE_URL ?= postgres://postgres@localhost:5432/evento

.PHONY: run test generate check-generated check-arrows migrate lint fmt build bench docs

run: ## the brief's experiment (a throwaway PostgreSQL when none is running)
	$(GO) run ./cmd/evento --clients 200 --strategy pessimistic --rooms 200 --servers 2

test: ## every test, against real PostgreSQL, with the race detector
	$(GO) test -race -count=1 ./...
	@# Allocation counts vary under -race (sync.Pool drops items at random): api counts them without it.
	$(GO) test -count=1 ./api
	@# go test prints a skip only with -v: say when the browser and PgBouncer tests did not run.
	@$(GO) test -count=1 -run '^TestHTMLRendersInChromium$$' -v ./lab/report | grep -- '--- SKIP' || true
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || echo '--- SKIP: the PgBouncer tests (no pgbouncer: apt-get install pgbouncer)'

generate: ## regenerate db/ from queries/ and sql/
	$(GO) tool sqlc generate

check-generated: generate ## fail when committed generated code is stale
	git diff --exit-code -- db/
	@test -z "$$(git status --porcelain -- db/)" || (git status --porcelain -- db/; exit 1)

check-arrows: ## the one-way package arrows of docs/architecture.md
	@# Every arrow of the package table against go list (arrows_test.go),
	@# then the three rules the table alone would not stop anyone breaking.
	$(GO) test -count=1 -run '^TestArchitectureTable$$' .
	@! $(GO) list -deps ./api ./lab/client ./lab/report | grep -E 'jackc/pgx|pressly/goose' \
		|| (echo "api, lab/client and lab/report must not depend on pgx or goose"; exit 1)
	@! $(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' ./... | grep -v '^github.com/evento-lab/evento/db[:/]' | grep 'db/internal/dbsqlc' \
		|| (echo "only db may import the generated package"; exit 1)
	@! $(GO) list -f '{{.ImportPath}}: {{join .Imports " "}}' ./... | grep ' github.com/evento-lab/evento/cmd' \
		|| (echo "nothing may import cmd"; exit 1)

# The URL, password and all, reaches goose in its environment: a command
# line (make's sh -c, goose's own) is visible to every user of the machine.
migrate: export GOOSE_DBSTRING = $(DATABASE_URL)
migrate: ## goose's own CLI against DATABASE_URL
	GOOSE_DRIVER=postgres $(GO) tool goose -dir sql up

lint: ## formatting and vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

build:
	$(GO) build -o bin/evento ./cmd/evento

docs: ## rewrite the docs' generated sample outputs from real runs (TestGeneratedDocs checks them)
	$(GO) test -count=1 -timeout 30m -run '^TestGeneratedDocs$$' ./cmd/evento -args -update-docs

bench: ## the hot row: pgbench vs Evento over HTTP (medians of 3), Go benchmarks, load memory
	$(GO) run ./cmd/evento bench --clients 1,8,32,64 --rounds 3 --duration 5s
	$(GO) test -run '^$$' -bench . -benchtime 2s ./db
	@for c in 1000 10000; do \
		printf 'load process peak memory, %s clients: ' $$c; \
		$(GO) run ./cmd/evento --clients $$c --strategy atomic --rooms 20000 --think 0-300ms --json 2>/dev/null \
			| sed -n 's/.*"load_peak_memory_mb": \([0-9.]*\).*/\1 MB/p'; \
	done
