# Everyday commands; `make` alone lists them. Database tests run against a
# throwaway PostgreSQL that cmd/testpg starts and stops around `go test`.

GO        ?= go
GOFMT     ?= $(shell $(GO) env GOROOT)/bin/gofmt
BIN       := bin/nordpay-jobs
PKG       ?= ./...
TESTFLAGS ?=
BENCH     ?= .
BENCHTIME ?= 1x

.DEFAULT_GOAL := help
.PHONY: help build test demo bench lint

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

build: ## build bin/nordpay-jobs
	$(GO) build -o $(BIN) ./cmd/nordpay-jobs

test: ## run the tests (PKG=./..., TESTFLAGS=...) against a throwaway PostgreSQL
	@bash scripts/ensure-postgres.sh
	@bash scripts/ensure-tools.sh
	$(GO) run ./cmd/testpg -- $(GO) test -count=1 $(TESTFLAGS) $(PKG)

demo: build ## run `nordpay-jobs demo`: the whole cycle on a throwaway PostgreSQL and the sandbox
	@bash scripts/ensure-postgres.sh
	$(BIN) demo

bench: ## run benchmarks (BENCH=., BENCHTIME=1x, PKG=./...) against a throwaway PostgreSQL
	@bash scripts/ensure-postgres.sh
	@bash scripts/ensure-tools.sh
	$(GO) run ./cmd/testpg -- $(GO) test -run '^$$' -bench $(BENCH) -benchmem -benchtime $(BENCHTIME) $(PKG)

lint: ## fail on unformatted files (gofmt -l), then go vet
	@unformatted="$$($(GOFMT) -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists files that need formatting:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
