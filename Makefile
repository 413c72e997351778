# One entry point for every job. `make test` on a fresh machine sets up what it needs:
# a venv with the pinned toolchain, the ansible_collections link, a Docker engine, the
# systemd base images and the QEMU image of the vm scenario (scripts/testbed.sh), then
# runs every check.
#
#   make test                     lint + unit + ee-test + molecule (all scenarios, both distros)
#                                 + build-test (the tarball, installed, used from outside)
#   make lint                     yamllint, ruff (check, format), ansible-lint (production),
#                                 changelog fragments
#   make unit                     pytest tests/unit (installs chromium-headless-shell first when missing and
#                                 root on Debian: scripts/browser.sh; the plan-picture test opens it)
#   make ee-test                  what ansible-builder installs in an execution environment for the
#                                 built tarball (introspect, create; no image, seconds)
#   make molecule [scenario=X]    molecule test, every scenario (two at a time) or those named
#                                 (scenario="vm edge"; vm: a Debian 12 QEMU host; docs/testing.md)
#   make demo                     site.yml against a local 512 MiB systemd container, then a
#                                 post-check (molecule/default; make demo-destroy removes it)
#   make build                    the collection tarball in .cache/build
#   make role-docs                each roles/*/README.md's variables block, from meta/argument_specs.yml
#   make plan-screenshots         docs/images/plan-{index,host}.png: budget.yml's plan pictures of a sample
#                                 fleet in headless Chromium (scripts/plan_pictures.py)
#
# MOLECULE_DISTROS (default "debian12 debian13") picks the test hosts' distributions;
# MOLECULE_IMAGE runs the scenarios on an image of your own instead. `make testbed` builds
# what the chosen scenarios need: the container images, and the VM image for scenario vm.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/.cache/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/smallvps/hardening

export PATH := $(BIN):$(PATH)
# This checkout is smallvps.hardening through the link; community.docker and friends
# come from the `ansible` package in the venv (found on sys.path).
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_INJECT_FACT_VARS := False
# Keep Ansible's own state (tmp, galaxy cache, anything a tool installs) inside the
# checkout, so tests never read or write your ~/.ansible and two checkouts never mix.
export ANSIBLE_HOME := $(CURDIR)/.cache/ansible-home
export ANSIBLE_NOCOLOR := $(if $(CI),1,)
export PY_COLORS := $(if $(CI),0,1)

.PHONY: help test lint unit ee-test molecule demo demo-destroy build build-test testbed testbed-containers testbed-vm testbed-molecule \
	venv link clean role-docs browser plan-screenshots

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

test: lint unit ee-test molecule build-test

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

link: $(COLLECTION_LINK)
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../../.. $@

lint: venv link
	yamllint --strict .
	ruff check .
	ruff format --check .
	ansible-lint
	antsibull-changelog lint

unit: venv link browser
	pytest

# Debian's chromium-headless-shell for tests/unit/test_plan_picture_browser.py, when missing (root on Debian).
browser:
	scripts/browser.sh

# The collection's execution-environment metadata as ansible-builder reads it (tests/ee/test_ee.py).
ee-test: venv
	pytest tests/ee

# The scenarios that boot the VM image instead of containers (scripts/molecule.sh's vm_scenarios).
VM_SCENARIOS := vm vm_stack

# The container images unless only VM scenarios run; the VM image (minutes to build, then
# cached) only when a VM scenario runs: every scenario, or scenario=vm or vm_stack.
testbed: $(if $(filter-out $(VM_SCENARIOS),$(or $(scenario),all)),testbed-containers) \
	$(if $(filter $(VM_SCENARIOS),$(or $(scenario),vm)),testbed-vm)

# The container images only: scripts/molecule.sh builds the VM image in a VM scenario's own
# run, while the container scenarios go on.
testbed-molecule: $(if $(filter-out $(VM_SCENARIOS),$(or $(scenario),all)),testbed-containers)

testbed-containers:
	scripts/testbed.sh all

testbed-vm:
	scripts/testbed.sh vm

molecule: venv link testbed-molecule
	scripts/molecule.sh $(scenario)

# The post-check (molecule/default/demo-check.yml, molecule's side effect) writes its summary to
# .cache/demo-check.txt, printed whole at the end (molecule wraps long lines); a claim that does
# not hold fails it, and make demo with it.
demo: venv link testbed-containers
	molecule converge -s default
	rm -f .cache/demo-check.txt
	molecule side-effect -s default || { cat .cache/demo-check.txt 2>/dev/null || true; \
		echo "demo: the post-check failed (above)"; exit 1; }
	@cat .cache/demo-check.txt
	@echo "demo: the host is the container smallvps-demo; look around with: docker exec -it smallvps-demo bash"

demo-destroy: venv link
	molecule destroy -s default

# Rewrites the generated block of every role README; tests/unit/test_role_docs.py fails when one drifts.
role-docs: venv
	python scripts/role_docs.py

# The screenshots docs/plan-picture.md shows.
plan-screenshots: venv link browser
	python scripts/plan_pictures.py docs/images

build: venv link
	ansible-galaxy collection build --force --output-path .cache/build

build-test: venv testbed-containers
	scripts/test-build.sh

clean:
	rm -rf .cache .ansible .pytest_cache .hypothesis $(VENV)
