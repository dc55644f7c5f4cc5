# picowire — `make` builds the default image (installing what it needs), `make test` runs every test.
RECIPE ?= recipes/default.ts
# the picowire command as users run it: the CLI compiled to dist/picowire.js (npx picowire runs the same)
PICOWIRE = node bin/picowire.js

.PHONY: all image deps cli host-tools test unit typecheck lab bench lock clean

all: image

# npm dependencies, installed exactly as locked
node_modules/.installed: package.json package-lock.json
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("picowire needs Node.js >= 20.19, found "+process.versions.node); process.exit(1) }'
	npm ci --no-audit --no-fund
	@touch $@
deps: node_modules/.installed

# the command, compiled once its sources change
dist/picowire.js: node_modules/.installed $(shell find src -name '*.ts')
	npm run --silent compile
cli: dist/picowire.js

host-tools: cli
	$(PICOWIRE) host-tools build test --install

image: cli
	$(PICOWIRE) build $(RECIPE) --install-tools

typecheck: deps
	npx tsc --noEmit

# every test: unit, the image's boot in each mode, and the QEMU lab (needs root for taps and namespaces)
test: host-tools image
	npx ava

unit: cli
	npx ava 'test/**/*.test.ts' '!test/vm/**' '!test/lab/**'

lab: host-tools image
	node --import=tsx src/lab/lab.ts images/default.iso

bench: host-tools image
	node --import=tsx bench/run.ts
	node --import=tsx bench/embed.ts
	node --import=tsx bench/api.ts
	node --import=tsx bench/schedule.ts
	node --import=tsx bench/engines.ts
	node --import=tsx bench/fidelity/run.ts

lock: cli
	$(PICOWIRE) lock $(RECIPE)

clean:
	rm -rf images dist
