# aws-sso-agent: `make help` lists the targets.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PREFIX   ?= $(HOME)/.local
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
COMMANDS := aws-sso-agent aws-sso-remote
# The remote hosts `aws-sso-agent ssh` installs aws-sso-remote on.
REMOTE_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
DIST     := dist


.PHONY: FORCE $(RELEASE_TARGETS) help build helpers test race check lint fuzz bench e2e soak release install clean

help: ## list the targets
	@grep -E '^[a-z0-9]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build both binaries into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/aws-sso-agent ./cmd/aws-sso-remote

# Builds run JOBS (default: the cores) at a time. A release builds each
# platform's two commands in one go build, so the packages they share are
# compiled once, not twice at the same moment.
JOBS     ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
RELEASE_TARGETS := $(addprefix release-,$(subst /,-,$(PLATFORMS)))
HELPER_FILES    := $(foreach p,$(REMOTE_PLATFORMS),bin/aws-sso-remote-$(subst /,-,$(p)))

helpers: ## only aws-sso-remote for each remote platform, with its SHA-256, into bin/ (what hosts get)
	@$(MAKE) --no-print-directory -j$(JOBS) $(HELPER_FILES:=.sha256)

# release-OS-ARCH: both commands into DIST/CMD-OS-ARCH[.exe].
$(RELEASE_TARGETS): release-%:
	@n=$*; os=$${n%-*}; arch=$${n#*-}; tmp=$(DIST)/.build-$$n; \
	  echo "CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o $(DIST)/ $(addprefix ./cmd/,$(COMMANDS))"; \
	  mkdir -p $$tmp && \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$tmp/ $(addprefix ./cmd/,$(COMMANDS)) && \
	  for cmd in $(COMMANDS); do \
	    ext=; [ $$os = windows ] && ext=.exe; mv $$tmp/$$cmd$$ext $(DIST)/$$cmd-$$n$$ext || exit 1; \
	  done; rmdir $$tmp

# The helpers: go build decides what is out of date (FORCE), make only
# which to run at once.
$(HELPER_FILES:=.sha256): %.sha256: %
	@{ sha256sum $< 2>/dev/null || shasum -a 256 $<; } | cut -d' ' -f1 > $@.tmp && mv $@.tmp $@

$(HELPER_FILES): bin/aws-sso-remote-%: FORCE
	@n=$*; os=$${n%-*}; arch=$${n#*-}; \
	  echo "CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o $@ ./cmd/aws-sso-remote"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/aws-sso-remote

FORCE:

test: ## run the tests (quick: tests whose real peers are missing skip and say why)
	$(GO) test ./...

race: ## run the tests with the race detector
	$(GO) test -race ./...

check: ## install the real test peers if missing, then run every test against them
	./scripts/install-test-peers
	AWS_SSO_AGENT_REQUIRE_PEERS=1 ./scripts/with-secret-service $(GO) test -race -count=1 -timeout 25m ./...

e2e: ## only the end-to-end scenarios, against real peers
	./scripts/install-test-peers
	AWS_SSO_AGENT_REQUIRE_PEERS=1 ./scripts/with-secret-service $(GO) test -race -count=1 -timeout 25m ./e2e/

SOAKTIME ?= 3m
soak: ## mixed load on one agent for SOAKTIME (default 3m); figures in bin/soak-summary.txt
	./scripts/install-test-peers
	@mkdir -p bin
	AWS_SSO_AGENT_REQUIRE_PEERS=1 AWS_SSO_AGENT_SOAK=$(SOAKTIME) AWS_SSO_AGENT_SOAK_SUMMARY=$(CURDIR)/bin/soak-summary.txt \
	  $(GO) test -run '^TestSoak$$' -count=1 -v -timeout 60m ./e2e/

lint: ## go vet, staticcheck and govulncheck (pinned in go.mod)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) tool govulncheck ./...

FUZZTIME ?= 20s
fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench: ## benchmarks, each against its baseline in the same run; prints ratios
	$(GO) test -run '^$$' -bench . $$($(GO) list ./... | grep -v /e2e$$)
	AWS_SSO_AGENT_REQUIRE_PEERS=1 ./scripts/with-secret-service $(GO) test -run '^$$' -bench . -benchtime 20x ./e2e/

release: ## static release binaries for every platform into dist/, JOBS (default: the cores) at a time
	@$(MAKE) --no-print-directory -j$(JOBS) $(RELEASE_TARGETS)

install: build helpers ## install both binaries into PREFIX/bin (default ~/.local/bin), the remote helpers beside the agent
	install -d $(PREFIX)/bin
	install -m 0755 bin/aws-sso-agent bin/aws-sso-remote $(PREFIX)/bin/
	@# The SHA-256 files after their helpers: a helper newer than its
	@# SHA-256 file is hashed again by the agent.
	install -m 0755 $$(ls bin/aws-sso-remote-*-* | grep -v '\.sha256$$') $(PREFIX)/bin/
	install -m 0644 bin/aws-sso-remote-*-*.sha256 $(PREFIX)/bin/

clean: ## remove build output
	rm -rf bin dist
