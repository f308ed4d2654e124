# Two commands do all set-up on a fresh Debian machine (as root): `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-osd tesseract-ocr-eng \
	poppler-utils qpdf fonts-arphic-uming icc-profiles-free libsane1 sane-utils libgl1 libglib2.0-0 \
	default-jre-headless libpdfbox2-java libcommons-logging-java libactivation-java libjaxb-api-java \
	jbig2dec fontconfig fonts-hanazono fonts-noto-cjk softhsm2 opensc libnss3-tools redis-server chromium \
	ghostscript pngquant
DEMO_OUT ?= demo-out

.PHONY: install system-deps demo test lint bench clean

install: system-deps $(VENV)/.installed

# apt only when something is missing, so a second `make test` starts at once.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: install
	$(BIN)/dossier demo -o $(DEMO_OUT)

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install
	$(BIN)/pip install -q ocrmypdf
	$(BIN)/python bench/bench_build.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info
