# berth: build, install, test, demo and benchmark.
# The quick start is `make demo` and `make test` (both as root).

GO        ?= go
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
UNITDIR   ?= $(PREFIX)/lib/systemd/system
DBUSDIR   ?= $(PREFIX)/share/dbus-1
MANDIR    ?= $(PREFIX)/share/man
BUILDDIR  ?= bin
TESTFLAGS ?=
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

PROGRAMS  = berthd berth-nspawn berthctl
# Pure-Go user and resolver code: berth-nspawn links a static cgo stub, and
# glibc's NSS must not be linked into it (see internal/testbed.BuildTags).
export GOFLAGS := $(GOFLAGS) -tags=osusergo,netgo

.PHONY: all build man install deps test demo bench lint fuzz clean

all: build

build:
	@mkdir -p $(BUILDDIR)
	$(GO) build -trimpath -o $(BUILDDIR)/ ./daemon/... ./client/...

man:
	$(GO) run ./internal/manpages $(BUILDDIR)/man

install: build man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(DBUSDIR)/system.d $(DESTDIR)$(DBUSDIR)/system-services
	for p in $(PROGRAMS); do \
		[ ! -f $(BUILDDIR)/$$p ] || install -m 0755 $(BUILDDIR)/$$p $(DESTDIR)$(BINDIR)/$$p; \
	done
	for u in units/*.service units/*.target; do \
		[ -f "$$u" ] || continue; \
		sed 's|@BINDIR@|$(BINDIR)|g' "$$u" > $(DESTDIR)$(UNITDIR)/$$(basename "$$u"); \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename "$$u"); \
	done
	install -m 0644 $(BUILDDIR)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 units/dbus/system.d/*.conf $(DESTDIR)$(DBUSDIR)/system.d/
	for s in units/dbus/system-services/*.service; do \
		[ -f "$$s" ] || continue; \
		sed 's|@BINDIR@|$(BINDIR)|g' "$$s" > $(DESTDIR)$(DBUSDIR)/system-services/$$(basename "$$s"); \
	done

deps:
	scripts/deps.sh

test: deps
	BERTH_TEST_STRICT=$${BERTH_TEST_STRICT:-0} $(GO) test -count=1 -timeout 40m $(TESTFLAGS) ./...
	FUZZTIME=$${FUZZTIME:-3s} scripts/fuzz.sh

demo: deps build
	$(GO) run ./internal/demo --bin $(BUILDDIR)

bench: build
	scripts/deps.sh --bench
	$(GO) test -run '^$$' -bench . -benchmem -timeout 90m ./...

lint:
	@u=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$u" ] || { echo "gofmt: $$u"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fuzz:
	scripts/fuzz.sh

clean:
	rm -rf $(BUILDDIR)
