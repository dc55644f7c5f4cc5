# picowire — `make` builds the default image (installing what it needs), `make test` runs every test.
RECIPE ?= recipes/default.ts
PICOWIRE = node --import=tsx src/cli.ts

.PHONY: all image deps host-tools test unit typecheck lab bench lock clean

all: image

# npm dependencies, installed exactly as locked
node_modules/.installed: package.json package-lock.json
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("picowire needs Node.js >= 20.19, found "+process.versions.node); process.exit(1) }'
	npm ci --no-audit --no-fund
	@touch $@
deps: node_modules/.installed

host-tools: deps
	$(PICOWIRE) host-tools build test --install

image: deps
	$(PICOWIRE) build $(RECIPE) --install-tools

typecheck: deps
	npx tsc --noEmit

# every test: unit, the image's boot in each mode, and the QEMU lab (needs root for taps and namespaces)
test: host-tools image
	npx ava

unit: deps
	npx ava 'test/**/*.test.ts' '!test/vm/**' '!test/lab/**'

lab: host-tools image
	node --import=tsx src/lab/lab.ts images/default.iso

bench: host-tools image
	node --import=tsx bench/run.ts
	node --import=tsx bench/fidelity/run.ts

lock: deps
	$(PICOWIRE) lock $(RECIPE)

clean:
	rm -rf images
