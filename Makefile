# The README's two commands: `make dev` runs the API locally, `make test` runs every test.
.PHONY: dev test bench cold-start lint package

dev:
	scripts/dev.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh

cold-start:
	scripts/cold-start.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# Deploy artifacts for arm64 (target/lambda/<function>/bootstrap).
package:
	scripts/tools.sh package
	PATH="$(CURDIR)/.cache/venv/bin:$$PATH" cargo lambda build --release --arm64 \
	  $(foreach f,$(notdir $(wildcard functions/*)),-p $(f))
