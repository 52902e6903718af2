# The README's two commands: `make dev` runs the API locally, `make test` runs every test.
# Every target finds the project's tools (sam, cfn-lint, cargo-lambda) in .cache/venv: no need
# to activate it.
.PHONY: dev test bench cold-start vat-memory lint package deploy invoke smoke load docs

export PATH := $(CURDIR)/.cache/venv/bin:$(PATH)
export SAM_CLI_TELEMETRY ?= 0

# samconfig.toml environment for `make deploy` (default: [default]).
ENV ?= default
# Port of `make dev` for `make invoke`.
PORT ?= 9000

dev:
	scripts/dev.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh

cold-start:
	scripts/cold-start.sh

# Peak memory of the VAT re-validation job's release bootstrap at 0, 1,000 and 10,000 due
# organisations (tests/benches/vat_memory.rs); make vat-memory DUE="1000 10000" for others.
vat-memory:
	scripts/vat-memory.sh $(DUE)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The API reference: openapi.yaml linted with Redocly's recommended rules (fails on an error)
# and rendered into target/docs/index.html (not committed). Redocly CLI from npm, .cache/redocly.
REDOCLY := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true .cache/redocly/node_modules/.bin/redocly
docs:
	scripts/tools.sh docs
	$(REDOCLY) lint openapi.yaml
	$(REDOCLY) build-docs openapi.yaml --output target/docs/index.html

# Deploy artifacts for arm64 (target/lambda/<function>/bootstrap).
package:
	scripts/tools.sh package
	cargo lambda build --release --arm64 \
	  $(foreach f,$(notdir $(wildcard functions/*)),-p $(f))

# Checks samconfig.toml's ENV environment (no placeholder left, every required parameter set,
# the stack name short enough) and the template, builds every function with SAM
# (rust-cargolambda, arm64) and deploys the stack (docs/deploy.md). Needs Rust, Python 3 and
# AWS credentials; no Java, no npm.
deploy:
	scripts/tools.sh package
	.cache/venv/bin/python scripts/deploy-check.py $(ENV)
	scripts/template-check.sh
	sam build --config-env $(ENV)
	sam deploy --config-env $(ENV)

# One function of `make dev` with an event: make invoke FN=organisations EVENT=tests/events/http/get-organisation.json
# ORG_IDENTITY=<uuid> puts your organisation's identity where the fixtures have theirs
# (platform events are applied only to the organisation whose identity they carry).
FIXTURE_IDENTITY := 6f1c2d3e-0000-4000-8000-000000000001
invoke:
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then \
	  echo "usage: make invoke FN=<function> EVENT=<event file> [ORG_IDENTITY=<uuid>]   (with make dev running)" >&2; exit 2; fi
	@mkdir -p target && sed "s/$(FIXTURE_IDENTITY)/$(or $(ORG_IDENTITY),$(FIXTURE_IDENTITY))/g" "$(EVENT)" > target/invoke-event.json
	cargo lambda invoke -A 127.0.0.1 -P $(PORT) $(FN) --data-file target/invoke-event.json

# Post-deploy check: make smoke URL=<api base url> TOKEN=<bearer token> [STACK=<stack name>]
# (scripts/smoke.py); with STACK, also an outbound event of its own create through a temporary
# rule and queue, and an invocation of each scheduled function (scripts/smoke-aws.py, AWS CLI).
smoke:
	@if [ -z "$(URL)" ] || [ -z "$(TOKEN)" ]; then \
	  echo "usage: make smoke URL=<api base url> TOKEN=<bearer token> [STACK=<stack name>]" >&2; exit 2; fi
	$(if $(STACK),python3 scripts/smoke-aws.py "$(STACK)" "$(URL)" "$(TOKEN)",python3 scripts/smoke.py "$(URL)" "$(TOKEN)")

# Mixed load with Locust on organisations it creates and deletes (scripts/load.py):
# make load URL=<api base url> TOKEN=<bearer token> [USERS=10] [DURATION=60s] [ORGS=3]
load:
	@if [ -z "$(URL)" ] || [ -z "$(TOKEN)" ]; then \
	  echo "usage: make load URL=<api base url> TOKEN=<bearer token> [USERS=10] [DURATION=60s]" >&2; exit 2; fi
	scripts/load.sh "$(URL)" "$(TOKEN)" "$(or $(USERS),10)" "$(or $(DURATION),60s)" "$(or $(ORGS),3)"
